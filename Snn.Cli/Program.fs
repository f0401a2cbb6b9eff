module Snn.Cli.Program

[<EntryPoint>]
let main argv =
    Snn.Core.Native.TorchRuntime.EnsureNativeCompatibility()
    eprintfn "snn: no commands yet"
    1
