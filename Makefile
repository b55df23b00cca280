# The two commands of the quick start, `make up` and `make test`, install what they need and
# build first. Everything else is a helper for developers.
BUILD_DIR ?= build
ASAN_DIR ?= build-asan
JOBS ?= $(shell nproc)
DATA_DIR ?=

.PHONY: deps build build-asan up down status test test-unit test-integration test-asan bench clean

deps:
	@./scripts/install-deps.sh

build: deps
	@[ -f $(BUILD_DIR)/CMakeCache.txt ] || cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD_DIR) -j $(JOBS)

build-asan: deps
	@[ -f $(ASAN_DIR)/CMakeCache.txt ] || cmake -S . -B $(ASAN_DIR) -DCMAKE_BUILD_TYPE=Debug -DDASE_SANITIZE=ON
	cmake --build $(ASAN_DIR) -j $(JOBS)

up: build
	$(BUILD_DIR)/dase up --detach $(if $(DATA_DIR),--data-dir $(DATA_DIR))
	$(BUILD_DIR)/dase status $(if $(DATA_DIR),--data-dir $(DATA_DIR))

down: build
	$(BUILD_DIR)/dase down $(if $(DATA_DIR),--data-dir $(DATA_DIR))

status: build
	$(BUILD_DIR)/dase status $(if $(DATA_DIR),--data-dir $(DATA_DIR))

test: build build-asan
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)
	cd $(ASAN_DIR) && ctest --output-on-failure -j $(JOBS)

test-unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L unit -j $(JOBS)

test-integration: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L integration

bench: build
	./bench/run-all

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR)
