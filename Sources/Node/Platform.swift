#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

func fflushStandardOutput() {
    fflush(nil)
}
