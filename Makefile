# smx: the two commands a new user needs are `make demo` and `make test`.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all setup configure build test demo bench format clean

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
