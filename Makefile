# Two entry points, both self-contained on a fresh Debian machine with Swift:
#   make demo   build (release) and run the mixed workload on a local directory store
#   make test   run the whole test suite
#   make micro  run the package-benchmark micro-benchmarks (ns/op and mallocs/op)
.PHONY: deps build demo test bench micro clean

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

# Benchmarks/Micro is a package of its own (package-benchmark with its malloc
# interposer); the plugin builds it in release mode. Figures are per operation.
micro: deps
	cd Benchmarks/Micro && swift package benchmark --no-progress

clean:
	rm -rf .build
