module Snn.Cli.Tests.Main

open Expecto

[<EntryPoint>]
let main argv =
    // Patch TorchSharp's native glue for old libstdc++ before any tensor is created.
    Snn.Core.Native.TorchRuntime.EnsureNativeCompatibility()
    // --fast leaves out every test under a list named "slow".
    let fast = argv |> Array.contains "--fast"
    let argv = argv |> Array.filter ((<>) "--fast")

    let tests =
        match Impl.testFromThisAssembly () with
        | Some t when fast ->
            t
            |> Test.filter defaultConfig.joinWith.asString (fun path -> not (List.contains "slow" path))
        | Some t -> t
        | None -> testList "none" []

    runTestsWithCLIArgs [] argv tests
