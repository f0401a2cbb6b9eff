module Snn.Core.Tests.Native.NativeAllocatorTests

open System
open Expecto
open Snn.Core.Native

[<Tests>]
let tests =
    testList
        "NativeAllocator"
        [ testCase "on Linux with glibc, loading Snn.Core tuned malloc once (unless SNN_MALLOC=default)"
          <| fun () ->
              // Any Snn.Core type triggers the module initializer; a second call must change nothing.
              NativeAllocator.Configure()

              if
                  OperatingSystem.IsLinux()
                  && Environment.GetEnvironmentVariable "SNN_MALLOC" <> "default"
              then
                  Expect.isTrue NativeAllocator.Tuned "mallopt accepted both settings"
              else
                  Expect.isFalse NativeAllocator.Tuned "left untouched"

          testCase "the thresholds are within what glibc accepts on 64-bit"
          <| fun () ->
              Expect.isLessThanOrEqual NativeAllocator.MmapThreshold (32 <<< 20) "M_MMAP_THRESHOLD <= 32 MiB"
              Expect.isGreaterThan NativeAllocator.TrimThreshold NativeAllocator.MmapThreshold "trim above mmap" ]
