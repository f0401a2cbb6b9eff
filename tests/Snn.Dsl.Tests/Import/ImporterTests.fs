module Snn.Dsl.Tests.Import.ImporterTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open Snn.Dsl
open Snn.Dsl.Import
open Snn.Dsl.Tests.Common
open Snn.Dsl.Tests.Import.OnnxModels
open Snn.Dsl.Tests.Import.ExampleModels

let private config n =
    { FsCheckConfig.defaultConfig with
        maxTest = n }

let private within (bytes: byte[]) (model: ImportedModel) seed =
    let diff = maxDifference bytes model 3 seed
    diff <= Tolerance.onnx |> Prop.label $"max |imported - ONNX Runtime| = %g{diff}"

let private contains (messages: string list) (parts: string list) =
    let all = String.concat "\n" messages

    for p in parts do
        Expect.stringContains all p $"the messages name %s{p}"

[<Tests>]
let properties =
    testList
        "Import.ImporterProperties"
        [ testPropertyWithConfig
              (config 40)
              "an imported Conv (strides, pads, auto_pad, dilations, groups) computes what ONNX Runtime computes"
          <| Prop.forAll (Arb.fromGen ImportGenerators.convCase) (fun c ->
              let bytes = convModel c
              within bytes (importOk ImportOptions.Default bytes) c.Seed)

          testPropertyWithConfig
              (config 25)
              "BN (any epsilon), Clip(0, m), padded AveragePool, GAP and MatMul + Add import exactly"
          <| Prop.forAll (Arb.fromGen ImportGenerators.poolCase) (fun c ->
              let bytes = bnPoolModel c
              let m = importOk ImportOptions.Default bytes
              let maxima = m.ClipMaxima |> List.map snd

              (maxima = [ float (float32 c.ClipMax) ] |> Prop.label $"clip maxima %A{maxima}")
              .&. within bytes m c.Seed)

          testPropertyWithConfig
              (config 25)
              "residual Adds of torch-style basic blocks import as residual blocks and match ONNX Runtime"
          <| Prop.forAll (Arb.fromGen ImportGenerators.residualCase) (fun c ->
              let bytes = residualModel c
              let m = importOk ImportOptions.Default bytes

              let blocks =
                  m.Spec.Layers
                  |> List.choose (function
                      | Residual r -> Some(r.Stride, r.Shortcut, r.BatchNorm)
                      | _ -> None)

              let expected =
                  c.Blocks
                  |> List.map (fun (_, s, p) -> s, (if p then Projection else Identity), c.BatchNorm)

              (blocks = expected |> Prop.label $"blocks %A{blocks}") .&. within bytes m c.Seed) ]

[<Tests>]
let patterns =
    testList
        "Import.Importer"
        [ test
              "torch.onnx.export's Pad + AveragePool and Shape/Gather/Unsqueeze/Concat/Reshape flatten import and match ONNX Runtime" {
              let bytes = torchStyle false
              let m = importOk ImportOptions.Default bytes

              Expect.equal
                  (m.Spec.Layers |> List.map _.KindName)
                  [ "conv"; "bn"; "act"; "avgPool"; "flatten"; "linear" ]
                  "layers"

              Expect.isEmpty m.Warnings "no warnings"
              let diff = maxDifference bytes m 4 1
              Expect.isLessThanOrEqual diff Tolerance.onnx "max |difference|"
          }

          test
              "opset-10 Clip attributes, Dropout, Identity, constant Reshape targets and Gemm with transB = 0 match ONNX Runtime" {
              for fixedBatch in [ false; true ] do
                  let bytes = olderOps fixedBatch
                  let m = importOk ImportOptions.Default bytes
                  Expect.equal (m.Spec.Layers |> List.map _.KindName) [ "conv"; "act"; "flatten"; "linear" ] "layers"
                  Expect.equal m.ClipMaxima [ "act1", float 0.6f ] "bounded ReLU maximum"
                  let diff = maxDifference bytes m (if fixedBatch then 2 else 3) 5
                  Expect.isLessThanOrEqual diff Tolerance.onnx "max |difference|"
          }

          test "weights are keyed by the compiled network's state-dict names and cover every learned tensor" {
              let m = importOk ImportOptions.Default (torchStyle false)

              Expect.equal
                  (m.Weights |> List.map fst)
                  [ "conv1.weight"
                    "conv1.bias"
                    "bn1.weight"
                    "bn1.bias"
                    "bn1.running_mean"
                    "bn1.running_var"
                    "fc1.weight"
                    "fc1.bias" ]
                  "names"

              use net = Import.toNetwork m

              let learned =
                  net.state_dict().Keys
                  |> Seq.filter (fun k -> not (k.EndsWith "num_batches_tracked"))
                  |> Set.ofSeq

              Expect.equal (m.Weights |> List.map fst |> Set.ofList) learned "every state-dict tensor gets a value"
          }

          test "a BatchNormalization exported in training mode imports with a warning that names it" {
              let m = importOk ImportOptions.Default (torchStyle true)
              contains m.Warnings [ "BatchNormalization"; "training_mode = 1"; "running statistics" ]
          }

          test "the DSL text of an imported network reads like docs/DSL.md" {
              let m = importOk ImportOptions.Default (torchStyle false)

              Expect.equal
                  (DslText.ofSpec m.Spec)
                  "input (1, 6, 6)\n    --> conv 3 --> bn --> act\n    --> avgPool 2\n    --> flatten --> linear 4"
                  "text"
          }

          test "an unsupported op is refused with its node name, op type and the supported list, all at once" {
              let b = OnnxBuilder([ None; Some 4L ], 1)
              let l = b.Node("LeakyRelu", [ b.InputName ], name = "leaky")
              let g = b.Node("Gemm", [ l; b.Random [ 3L; 4L ] ], [ "transB", I 1L ])
              let s = b.Node("Softmax", [ g ], name = "probabilities")
              let errors = importErrors ImportOptions.Default (b.Bytes s)
              Expect.equal errors.Length 2 "two errors"

              contains
                  errors
                  [ "node 'leaky' (LeakyRelu)"
                    "node 'probabilities' (Softmax)"
                    "supported: Conv" ]
          }

          test "MaxPool is refused without the option and replaced by average pooling, with a warning, with it" {
              let build () =
                  let b = OnnxBuilder([ None; Some 1L; Some 4L; Some 4L ], 2)
                  let c = b.Node("Conv", [ b.InputName; b.Random [ 2L; 1L; 1L; 1L ] ])
                  let r = b.Node("Relu", [ c ])

                  let p =
                      b.Node(
                          "MaxPool",
                          [ r ],
                          [ "kernel_shape", Is [ 2L; 2L ]; "strides", Is [ 2L; 2L ] ],
                          name = "pool"
                      )

                  b.Bytes(simpleHead b p 8)

              contains (importErrors ImportOptions.Default (build ())) [ "node 'pool' (MaxPool)"; "replace-maxpool" ]
              let m = importOk { ReplaceMaxPool = true } (build ())
              Expect.contains (m.Spec.Layers |> List.map _.KindName) "avgPool" "replaced"
              contains m.Warnings [ "node 'pool' (MaxPool)"; "average pooling" ]
          }

          test "two branches the residual block cannot express are refused naming the Add" {
              let b = OnnxBuilder([ None; Some 2L; Some 4L; Some 4L ], 3)

              let c =
                  b.Node("Conv", [ b.InputName; b.Random [ 2L; 2L; 3L; 3L ] ], [ "pads", Is [ 1L; 1L; 1L; 1L ] ])

              let x = b.Node("Relu", [ c ])

              let y =
                  b.Node("Conv", [ x; b.Random [ 2L; 2L; 3L; 3L ] ], [ "pads", Is [ 1L; 1L; 1L; 1L ] ])

              let sum = b.Node("Add", [ y; x ], name = "join")
              let r = b.Node("Relu", [ sum ])
              let errors = importErrors ImportOptions.Default (b.Bytes(simpleHead b r 32))
              contains errors [ "node 'join' (Add)"; "residual block"; "identity" ]
          }

          test "weights whose shapes do not fit the input are refused with the node and the expected shape" {
              let b = OnnxBuilder([ None; Some 2L; Some 4L; Some 4L ], 4)
              let c = b.Node("Conv", [ b.InputName; b.Random [ 2L; 3L; 1L; 1L ] ], name = "conv")
              let r = b.Node("Relu", [ c ])
              let f = b.Node("Flatten", [ r ])
              let g = b.Node("Gemm", [ f; b.Random [ 2L; 31L ] ], [ "transB", I 1L ], name = "fc")
              let errors = importErrors ImportOptions.Default (b.Bytes g)
              contains errors [ "node 'conv' (Conv)"; "expected 2 in-channels per group" ]

              let b = OnnxBuilder([ None; Some 2L; Some 4L; Some 4L ], 4)
              let c = b.Node("Conv", [ b.InputName; b.Random [ 2L; 2L; 1L; 1L ] ], name = "conv")

              let n =
                  b.Node(
                      "BatchNormalization",
                      [ c; b.Random [ 3L ]; b.Random [ 2L ]; b.Random [ 2L ]; b.Random [ 2L ] ],
                      name = "bn"
                  )

              let r = b.Node("Relu", [ n ])
              let errors = importErrors ImportOptions.Default (b.Bytes(simpleHead b r 31))
              contains errors [ "node 'bn' (BatchNormalization)"; "scale has dims [|3L|]: expected [2]" ]
          }

          test "a truncated file, a non-ONNX file and a missing file are refused with the file named" {
              let bytes = torchStyle false

              let dir =
                  IO.Path.Combine(IO.Path.GetTempPath(), $"snn-import-%d{Random.Shared.Next()}")

              IO.Directory.CreateDirectory dir |> ignore
              let truncated = IO.Path.Combine(dir, "truncated.onnx")
              IO.File.WriteAllBytes(truncated, bytes[.. bytes.Length / 2])
              let text = IO.Path.Combine(dir, "notes.onnx")
              IO.File.WriteAllText(text, "these are notes, not a model\n")

              for path in [ truncated; text ] do
                  match Import.fromFile ImportOptions.Default path with
                  | Ok _ -> failtest $"%s{path} imported"
                  | Error es -> contains (es |> List.map _.Message) [ path; "ONNX model" ]

              match Import.fromFile ImportOptions.Default (IO.Path.Combine(dir, "absent.onnx")) with
              | Ok _ -> failtest "a missing file imported"
              | Error es -> contains (es |> List.map _.Message) [ "absent.onnx: file not found" ]

              IO.Directory.Delete(dir, true)
          } ]

[<Tests>]
let benchmark =
    testList
        "Import.Benchmark"
        [ testList
              "slow"
              [ test
                    "a VGG-16 sized model (15 million parameters) imports and matches ONNX Runtime; prints the import time" {
                    let bytes = vgg16Bytes ()
                    let watch = Diagnostics.Stopwatch.StartNew()
                    let m = importOk ImportOptions.Default bytes
                    let importSeconds = watch.Elapsed.TotalSeconds
                    use net = Import.toNetwork m
                    let totalSeconds = watch.Elapsed.TotalSeconds
                    Expect.isGreaterThan m.Info.Parameters 14_900_000L "about 15 million parameters"

                    printfn
                        "benchmark: VGG-16 sized ONNX model (%d bytes, %d nodes, %d parameters): import %.2f s, import + TorchSharp network with weights %.2f s"
                        bytes.Length
                        m.Nodes
                        m.Info.Parameters
                        importSeconds
                        totalSeconds

                    let diff = maxDifference bytes m 2 3
                    Expect.isLessThanOrEqual diff Tolerance.onnx "max |difference| against ONNX Runtime"
                } ] ]
