# smx: the two commands a new user needs are `make demo` and `make test`.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all setup configure build test test-fast demo bench format clean

all: build

# Installs the Debian packages once; later runs only check they are there.
setup:
	@scripts/setup

$(BUILD_DIR)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

configure: setup $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

# The quick subset: unit tests only (no CLI, server, multi-process or training runs); ctest -L unit.
test-fast: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -L unit

# The demo needs only the CLI (and the SentencePiece module it loads), not the test suite.
demo: configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target smx_cli smx_sentencepiece
	scripts/demo $(BUILD_DIR)

bench: build
	$(BUILD_DIR)/smx bench

format:
	clang-format -i $$(git ls-files '*.h' '*.cpp')

clean:
	rm -rf $(BUILD_DIR)

.PHONY: fuzz loadtest
FUZZ_TIME ?= 60

# libFuzzer on the server's parsers (request heads, every route's body); bounded, not in CI.
# Needs clang-14 and libclang-rt-14-dev.
fuzz:
	@command -v clang++-14 >/dev/null || { echo "make fuzz needs clang: apt-get install clang-14 libclang-rt-14-dev"; exit 1; }
	mkdir -p $(BUILD_DIR)/fuzz/corpus
	clang++-14 -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude \
	  fuzz/request_fuzzer.cpp src/serve/request.cpp src/serve/api_requests.cpp src/serve/http.cpp \
	  src/serve/pooling.cpp src/core/utf8.cpp src/core/json.cpp \
	  -lfmt -o $(BUILD_DIR)/fuzz/request_fuzzer
	$(BUILD_DIR)/fuzz/request_fuzzer -max_total_time=$(FUZZ_TIME) -max_len=4096 \
	  $(BUILD_DIR)/fuzz/corpus fuzz/corpus
	mkdir -p $(BUILD_DIR)/fuzz/json_corpus
	clang++-14 -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc \
	  -isystem /usr/include/torch/csrc/api/include -D_GLIBCXX_USE_CXX11_ABI=1 \
	  fuzz/json_readers_fuzzer.cpp src/core/json.cpp $(wildcard src/config/*.cpp) src/io/text_file.cpp \
	  src/io/safetensors.cpp src/data/forward_input.cpp src/data/batch_padding.cpp src/core/utf8.cpp \
	  src/tasks/superglue_readers.cpp \
	  src/tasks/task_registry.cpp src/tasks/text_lines.cpp \
	  -ltorch -ltorch_cpu -lc10 -lfmt -o $(BUILD_DIR)/fuzz/json_readers_fuzzer
	$(BUILD_DIR)/fuzz/json_readers_fuzzer -max_total_time=$(FUZZ_TIME) -max_len=8192 \
	  $(BUILD_DIR)/fuzz/json_corpus fuzz/json_corpus

# smx serve under load at concurrency 1/4/16: dynamic batching vs batch size 1 (loopback only).
loadtest: build
	scripts/loadtest $(BUILD_DIR)
