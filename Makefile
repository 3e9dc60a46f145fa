# Two entry points, both self-contained on a fresh Debian machine with Swift:
#   make demo   build (release) and run the mixed workload on a local directory store
#   make test   run the whole test suite
.PHONY: deps build demo test bench clean

deps:
	@bash scripts/install-deps.sh

build: deps
	swift build -c release --product floe

demo: build
	.build/release/floe demo

test: deps
	swift test

bench: build
	.build/release/floe bench

clean:
	rm -rf .build
