@_spi(Fuzzing) import Floe
import Glibc

// libFuzzer drives the manifest decoder through LLVMFuzzerRunDriver (the no-main
// runtime), since SwiftPM executables own `main`.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzer(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
               _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(runFuzzer(&argc, &argv) { data, size in
    _ = FuzzingSupport.manifest(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
})
