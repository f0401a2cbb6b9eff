module Snn.Core.Tests.Native.TorchRuntimeTests

open Expecto
open TorchSharp
open Snn.Core.Native

[<Tests>]
let tests =
    testList
        "TorchRuntime"
        [ testCase "a TorchSharp convolution runs forward and backward"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              let conv = torch.nn.Conv2d(1L, 4L, 3L, padding = 1L)
              let x = torch.randn (2L, 1L, 8L, 8L)
              let y = conv.forward x
              Expect.equal (y.shape) [| 2L; 4L; 8L; 8L |] "output shape"
              let loss = y.square().mean ()
              loss.backward ()
              let g = conv.weight.grad
              Expect.isNotNull g "weight gradient exists"
              Expect.isGreaterThan (g.abs().sum().item<float32> ()) 0.0f "gradient is not zero"

          testCase "the patch weakens the GLIBCXX_3.4.32 need exactly once"
          <| fun () ->
              let path =
                  System.IO.Path.Combine(
                      System.AppContext.BaseDirectory,
                      "runtimes",
                      "linux-x64",
                      "native",
                      "libLibTorchSharp.so"
                  )

              Expect.isTrue (System.IO.File.Exists path) $"TorchSharp's native glue is at {path}"
              let image = System.IO.File.ReadAllBytes path
              // Whatever state the copy is in, a second pass must find nothing to change.
              TorchRuntime.PatchImage(image, TorchRuntime.RequiredVersion) |> ignore
              Expect.isFalse (TorchRuntime.PatchImage(image, TorchRuntime.RequiredVersion)) "idempotent"

          testCase "a file that is not ELF is refused with a clear message"
          <| fun () ->
              Expect.throwsC
                  (fun () -> TorchRuntime.PatchImage(Array.zeroCreate 100, "GLIBCXX_3.4.32") |> ignore)
                  (fun ex -> Expect.stringContains ex.Message "not an ELF file" "message says what was expected") ]
