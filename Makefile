# Two entry points, both self-contained on a fresh Debian machine with Swift:
#   make demo   build (release) and run the mixed workload on a local directory store
#   make test   run the whole test suite (the FloeS3 tests start and stop moto's S3 server themselves)
#   make micro  run the package-benchmark micro-benchmarks (ns/op and mallocs/op)
#   make docs   build the DocC catalogs of Floe and FloeDataflow; a warning fails it
# and the sanitizer runs of the same suite (docs/testing.md has their wall times):
#   make tsan   the whole suite under ThreadSanitizer
#   make asan   the whole suite under AddressSanitizer
.PHONY: deps build demo test bench micro clean tsan asan docs

deps:
	@bash scripts/install-deps.sh

build: deps
	swift build -c release --product floe

demo: build
	.build/release/floe demo

# The tests that run `floe` child processes go second, alone: beside the parallel
# suite they would take its CPU from the timing-bounded liveness tests. The FloeS3
# tests go last, for the same reason: they start moto's S3 server (a Python
# process that is busy for their whole run) and drive it from every suite at once.
PROCESS_TESTS = EotestProcessTests|SQLiteSinkFreedMemoryTests|FollowerProcessTests|MetricsEndpointProcessTests
# The suites with wall-clock bounds (liveness, waits for budget, the cooperative pool,
# every manifest byte flipped, services stopped within a time) go alone too: beside the CPU-bound model suites on 2
# cores they hit their time limits without anything being wrong.
TIMED_TESTS = LivenessTests|MemtableBudgetTests|DedicatedThreadExecutorTests|CorruptionTests|LifecycleTests|PipelineServiceTests|CheckpointPipelineTests|FaultInjectionTests|SpillTests|FencingTests
S3_TESTS = FloeS3Tests
test: deps
	swift test --skip '$(PROCESS_TESTS)|$(TIMED_TESTS)|$(S3_TESTS)'
	swift test --filter '$(TIMED_TESTS)'
	swift test --filter '$(PROCESS_TESTS)'
	swift test --filter '$(S3_TESTS)'

# Why each flag: docs/testing.md. In short: serial, because all tests at once under a
# sanitizer starve each other past the suites' time limits; no XCTest pass (there are
# no XCTests, and LeakSanitizer flags libXCTest's own leaks); lld, because gold warns
# about the ASan runtime's symbols; scripts/lsan.supp names the one toolchain leak
# LeakSanitizer reports. Own build paths keep .build untouched. Under TSan the
# model-based suites run every fourth seed (FLOE_SEED_STRIDE; all run in `make test`),
# and TSAN_SKIP leaves out suites with nothing for it to watch: the ones whose work
# happens in `floe` child processes (the same code runs in-process in other suites,
# and CI runs the release CLI across processes) and the single-threaded format,
# byte-damage and power-cut suites. `make asan` runs them all.
TSAN_SKIP = CrashtestProcessTests|CrashtestZombieProcessTests|BenchCommandProcessTests|EotestProcessTests|S3MultiProcessTests|S3SliceProcessTests|SstIndexTests|BlockChunkTests|BloomFilterTests|CorruptionTests|FilterPartitionProbeTests|PowerLossTests|NexmarkGeneratorTests|NexmarkGeneratorCommandTests|CsvTests|RowEncodingTests|LogDamageTests|OracleTests
tsan: deps
	FLOE_SEED_STRIDE=4 swift test -c debug --sanitize=thread --build-path .build-tsan --disable-xctest --no-parallel --skip '$(TSAN_SKIP)'

asan: deps
	LSAN_OPTIONS=suppressions=$(CURDIR)/scripts/lsan.supp swift test -c debug --sanitize=address --build-path .build-asan --disable-xctest --no-parallel -Xswiftc -use-ld=lld

# swift-docc-plugin; the archives land in .build/plugins/Swift-DocC/outputs/.
docs: deps
	swift package --disable-sandbox generate-documentation --target Floe --target FloeDataflow --warnings-as-errors

bench: build
	.build/release/floe bench

# Benchmarks/Micro is a package of its own (package-benchmark with its malloc
# interposer); the plugin builds it in release mode. Figures are per operation.
micro: deps
	cd Benchmarks/Micro && swift package benchmark --no-progress

clean:
	rm -rf .build .build-tsan .build-asan
