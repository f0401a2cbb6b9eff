module Snn.Dsl.Tests.Import.ImporterTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open Snn.Dsl
open Snn.Dsl.Import
open Snn.Dsl.Tests.Common
open Snn.Dsl.Tests.Import.OnnxModels

let private config n =
    { FsCheckConfig.defaultConfig with
        maxTest = n }

let private within (bytes: byte[]) (model: ImportedModel) seed =
    let diff = maxDifference bytes model 3 seed
    diff <= Tolerance.onnx |> Prop.label $"max |imported - ONNX Runtime| = %g{diff}"

/// Appends Flatten and Gemm (transB = 1, with C) to `x` with `features` inputs.
let private head (b: OnnxBuilder) x features classes =
    let f = b.Node("Flatten", [ x ], [ "axis", I 1L ])
    let w = b.Random [ int64 classes; int64 features ]
    let c = b.Random [ int64 classes ]
    b.Node("Gemm", [ f; w; c ], [ "transB", I 1L; "alpha", F 0.75f; "beta", F 1.5f ])

let private convModel (c: ImportGenerators.ConvCase) =
    let batch = if c.FixedBatch then Some 3L else None
    let b = OnnxBuilder([ batch; Some(int64 c.InChannels); Some(int64 c.Size); Some(int64 c.Size) ], c.Seed)
    let w = b.Random [ int64 c.OutChannels; int64 (c.InChannels / c.Groups); int64 c.Kernel; int64 c.Kernel ]
    let inputs = if c.Bias then [ b.InputName; w; b.Random [ int64 c.OutChannels ] ] else [ b.InputName; w ]

    let padAttrs =
        match c.AutoPad with
        | Some mode -> [ "auto_pad", S mode ]
        | None -> [ "pads", Is(List.replicate 4 (int64 c.Padding)) ]

    let y =
        b.Node(
            "Conv",
            inputs,
            [ "strides", Is [ int64 c.Stride; int64 c.Stride ]
              "dilations", Is [ int64 c.Dilation; int64 c.Dilation ]
              "group", I(int64 c.Groups)
              "kernel_shape", Is [ int64 c.Kernel; int64 c.Kernel ] ]
            @ padAttrs
        )

    let r = b.Node("Relu", [ y ])
    let o = c.OutputSize
    b.Bytes(head b r (c.OutChannels * o * o) 3)

/// conv -> BN -> Clip(0, m) -> [Pad ->] AveragePool -> GlobalAveragePool -> Flatten -> MatMul + Add.
let private bnPoolModel (c: ImportGenerators.PoolCase) =
    let b = OnnxBuilder([ None; Some 2L; Some(int64 c.Size); Some(int64 c.Size) ], c.Seed)
    let ch = 4L
    let y = b.Node("Conv", [ b.InputName; b.Random [ ch; 2L; 3L; 3L ] ], [ "pads", Is [ 1L; 1L; 1L; 1L ] ])

    let bn =
        b.Node(
            "BatchNormalization",
            [ y
              b.Random [ ch ]
              b.Random [ ch ]
              b.Random([ ch ], -0.2, 0.2)
              b.Random([ ch ], 0.5, 2.0) ],
            [ "epsilon", F c.Epsilon ]
        )

    let m = b.Init([], [| float32 c.ClipMax |])
    let zero = b.Init([], [| 0.0f |])
    let a = b.Node("Clip", [ bn; zero; m ])

    let pooledInput =
        if c.ExplicitPad then
            let pads = b.ConstInts([ 8L ], [| 0L; 0L; int64 c.Padding; int64 c.Padding; 0L; 0L; int64 c.Padding; int64 c.Padding |])
            b.Node("Pad", [ a; pads ], [ "mode", S "constant" ])
        else
            a

    let ownPads = if c.ExplicitPad then 0L else int64 c.Padding

    let p =
        b.Node(
            "AveragePool",
            [ pooledInput ],
            [ "kernel_shape", Is [ int64 c.Kernel; int64 c.Kernel ]
              "strides", Is [ int64 c.Stride; int64 c.Stride ]
              "pads", Is(List.replicate 4 ownPads)
              "count_include_pad", I 1L ]
        )

    let g = b.Node("GlobalAveragePool", [ p ])
    let f = b.Node("Flatten", [ g ])
    let mm = b.Node("MatMul", [ f; b.Random [ ch; 5L ] ])
    b.Bytes(b.Node("Add", [ mm; b.Random [ 5L ] ]))

/// A stem conv, `blocks` residual blocks as torch's BasicBlock exports them, GAP, Gemm.
let private residualModel (c: ImportGenerators.ResidualCase) =
    let b = OnnxBuilder([ None; Some 2L; Some 8L; Some 8L ], c.Seed)

    let conv x cin cout k stride pad =
        let ins = [ x; b.Random [ int64 cout; int64 cin; int64 k; int64 k ] ]
        let ins = if c.Bias then ins @ [ b.Random [ int64 cout ] ] else ins

        b.Node("Conv", ins, [ "strides", Is [ int64 stride; int64 stride ]; "pads", Is(List.replicate 4 (int64 pad)) ])

    let bn x ch =
        if c.BatchNorm then
            b.Node("BatchNormalization", [ x; b.Random [ ch ]; b.Random [ ch ]; b.Random [ ch ]; b.Random([ ch ], 0.5, 2.0) ])
        else
            x

    let stem = b.Node("Relu", [ bn (conv b.InputName 2 c.StemChannels 3 1 1) (int64 c.StemChannels) ])

    let block (x, cin) (cout, stride, projection) =
        let y = b.Node("Relu", [ bn (conv x cin cout 3 stride 1) (int64 cout) ])
        let y = bn (conv y cout cout 3 1 1) (int64 cout)
        let s = if projection then bn (conv x cin cout 1 stride 0) (int64 cout) else x
        let sum = if c.ShortcutFirst then b.Node("Add", [ s; y ]) else b.Node("Add", [ y; s ])
        b.Node("Relu", [ sum ]), cout

    let out, ch = c.Blocks |> List.fold block (stem, c.StemChannels)
    let g = b.Node("GlobalAveragePool", [ out ])
    b.Bytes(head b g ch 3)

[<Tests>]
let properties =
    testList
        "Import.ImporterProperties"
        [ testPropertyWithConfig (config 40) "an imported Conv (strides, pads, auto_pad, dilations, groups) computes what ONNX Runtime computes"
          <| Prop.forAll (Arb.fromGen ImportGenerators.convCase) (fun c ->
              let bytes = convModel c
              within bytes (importOk ImportOptions.Default bytes) c.Seed)

          testPropertyWithConfig (config 25) "BN (any epsilon), Clip(0, m), padded AveragePool, GAP and MatMul + Add import exactly"
          <| Prop.forAll (Arb.fromGen ImportGenerators.poolCase) (fun c ->
              let bytes = bnPoolModel c
              let m = importOk ImportOptions.Default bytes
              let maxima = m.ClipMaxima |> List.map snd
              (maxima = [ float (float32 c.ClipMax) ] |> Prop.label $"clip maxima %A{maxima}") .&. within bytes m c.Seed)

          testPropertyWithConfig (config 25) "residual Adds of torch-style basic blocks import as residual blocks and match ONNX Runtime"
          <| Prop.forAll (Arb.fromGen ImportGenerators.residualCase) (fun c ->
              let bytes = residualModel c
              let m = importOk ImportOptions.Default bytes

              let blocks =
                  m.Spec.Layers
                  |> List.choose (function Residual r -> Some(r.Stride, r.Shortcut, r.BatchNorm) | _ -> None)

              let expected =
                  c.Blocks
                  |> List.map (fun (_, s, p) -> s, (if p then Projection else Identity), c.BatchNorm)

              (blocks = expected |> Prop.label $"blocks %A{blocks}") .&. within bytes m c.Seed) ]

/// What torch.onnx.export (opset 14) writes for conv-BN-ReLU-AvgPool2d-view-Linear: Conv, BN,
/// Relu, Constant + Pad (zero pads) + AveragePool, Shape/Gather/Unsqueeze/Concat/Reshape, Gemm.
let private torchStyle (withBatchNormTrainingMode: bool) =
    let b = OnnxBuilder([ None; Some 1L; Some 6L; Some 6L ], 7)

    let conv =
        b.Node(
            "Conv",
            [ b.InputName; b.Random [ 3L; 1L; 3L; 3L ]; b.Random [ 3L ] ],
            [ "dilations", Is [ 1L; 1L ]
              "group", I 1L
              "kernel_shape", Is [ 3L; 3L ]
              "pads", Is [ 1L; 1L; 1L; 1L ]
              "strides", Is [ 1L; 1L ] ]
        )

    let bnAttrs =
        [ "epsilon", F 1e-5f; "momentum", F 0.9f ]
        @ (if withBatchNormTrainingMode then [ "training_mode", I 1L ] else [])

    let bnOut =
        b.NodeN(
            "BatchNormalization",
            [ conv; b.Random [ 3L ]; b.Random [ 3L ]; b.Random [ 3L ]; b.Random([ 3L ], 0.5, 2.0) ],
            bnAttrs,
            (if withBatchNormTrainingMode then 3 else 1)
        )

    let relu = b.Node("Relu", [ List.head bnOut ])
    let pads = b.ConstInts([ 8L ], Array.zeroCreate 8)
    let padded = b.Node("Pad", [ relu; pads ], [ "mode", S "constant" ])

    let pool =
        b.Node(
            "AveragePool",
            [ padded ],
            [ "ceil_mode", I 0L
              "kernel_shape", Is [ 2L; 2L ]
              "pads", Is [ 0L; 0L; 0L; 0L ]
              "strides", Is [ 2L; 2L ] ]
        )

    let shape = b.Node("Shape", [ pool ])
    let zero = b.ConstInts([], [| 0L |])
    let batch = b.Node("Gather", [ shape; zero ], [ "axis", I 0L ])
    let axes = b.ConstInts([ 1L ], [| 0L |])
    let batch1 = b.Node("Unsqueeze", [ batch; axes ])
    let minusOne = b.ConstInts([ 1L ], [| -1L |])
    let target = b.Node("Concat", [ batch1; minusOne ], [ "axis", I 0L ])
    let flat = b.Node("Reshape", [ pool; target ], [ "allowzero", I 0L ])
    let gemm = b.Node("Gemm", [ flat; b.Random [ 4L; 27L ]; b.Random [ 4L ] ], [ "alpha", F 1.0f; "beta", F 1.0f; "transB", I 1L ])
    b.Bytes gemm

let private simpleHead (b: OnnxBuilder) x features =
    let f = b.Node("Flatten", [ x ])
    b.Node("Gemm", [ f; b.Random [ 2L; int64 features ] ], [ "transB", I 1L ])

let private contains (messages: string list) (parts: string list) =
    let all = String.concat "\n" messages

    for p in parts do
        Expect.stringContains all p $"the messages name %s{p}"

[<Tests>]
let patterns =
    testList
        "Import.Importer"
        [ test "torch.onnx.export's Pad + AveragePool and Shape/Gather/Unsqueeze/Concat/Reshape flatten import and match ONNX Runtime" {
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

          test "weights are keyed by the compiled network's state-dict names and cover every learned tensor" {
              let m = importOk ImportOptions.Default (torchStyle false)

              Expect.equal
                  (m.Weights |> List.map fst)
                  [ "conv1.weight"; "conv1.bias"; "bn1.weight"; "bn1.bias"; "bn1.running_mean"; "bn1.running_var"; "fc1.weight"; "fc1.bias" ]
                  "names"

              use net = Import.toNetwork m

              let learned =
                  net.state_dict().Keys |> Seq.filter (fun k -> not (k.EndsWith "num_batches_tracked")) |> Set.ofSeq

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
              contains errors [ "node 'leaky' (LeakyRelu)"; "node 'probabilities' (Softmax)"; "supported: Conv" ]
          }

          test "MaxPool is refused without the option and replaced by average pooling, with a warning, with it" {
              let build () =
                  let b = OnnxBuilder([ None; Some 1L; Some 4L; Some 4L ], 2)
                  let c = b.Node("Conv", [ b.InputName; b.Random [ 2L; 1L; 1L; 1L ] ])
                  let r = b.Node("Relu", [ c ])
                  let p = b.Node("MaxPool", [ r ], [ "kernel_shape", Is [ 2L; 2L ]; "strides", Is [ 2L; 2L ] ], name = "pool")
                  b.Bytes(simpleHead b p 8)

              contains (importErrors ImportOptions.Default (build ())) [ "node 'pool' (MaxPool)"; "replace-maxpool" ]
              let m = importOk { ReplaceMaxPool = true } (build ())
              Expect.contains (m.Spec.Layers |> List.map _.KindName) "avgPool" "replaced"
              contains m.Warnings [ "node 'pool' (MaxPool)"; "average pooling" ]
          }

          test "two branches the residual block cannot express are refused naming the Add" {
              let b = OnnxBuilder([ None; Some 2L; Some 4L; Some 4L ], 3)
              let c = b.Node("Conv", [ b.InputName; b.Random [ 2L; 2L; 3L; 3L ] ], [ "pads", Is [ 1L; 1L; 1L; 1L ] ])
              let x = b.Node("Relu", [ c ])
              let y = b.Node("Conv", [ x; b.Random [ 2L; 2L; 3L; 3L ] ], [ "pads", Is [ 1L; 1L; 1L; 1L ] ])
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
              let n = b.Node("BatchNormalization", [ c; b.Random [ 3L ]; b.Random [ 2L ]; b.Random [ 2L ]; b.Random [ 2L ] ], name = "bn")
              let r = b.Node("Relu", [ n ])
              let errors = importErrors ImportOptions.Default (b.Bytes(simpleHead b r 31))
              contains errors [ "node 'bn' (BatchNormalization)"; "scale has dims [|3L|]: expected [2]" ]
          }

          test "a truncated file, a non-ONNX file and a missing file are refused with the file named" {
              let bytes = torchStyle false
              let dir = IO.Path.Combine(IO.Path.GetTempPath(), $"snn-import-%d{Random.Shared.Next()}")
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
