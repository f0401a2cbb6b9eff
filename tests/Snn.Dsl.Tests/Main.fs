module Snn.Dsl.Tests.Main

open Expecto

[<EntryPoint>]
let main argv =
    // Patch TorchSharp's native glue for old libstdc++ before any tensor is created.
    Snn.Core.Native.TorchRuntime.EnsureNativeCompatibility()
    runTestsInAssemblyWithCLIArgs [] argv
