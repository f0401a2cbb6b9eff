/// The ONNX models the importer tests build: one per property (from a generated case) and the
/// fixed ones (torch.onnx.export's patterns, small refusal cases, a VGG-16 sized model).
module Snn.Dsl.Tests.Import.ExampleModels

open Snn.Dsl.Tests.Import.OnnxModels

/// Appends Flatten and Gemm (transB = 1, with C) to `x` with `features` inputs.
let head (b: OnnxBuilder) x features classes =
    let f = b.Node("Flatten", [ x ], [ "axis", I 1L ])
    let w = b.Random [ int64 classes; int64 features ]
    let c = b.Random [ int64 classes ]
    b.Node("Gemm", [ f; w; c ], [ "transB", I 1L; "alpha", F 0.75f; "beta", F 1.5f ])

let convModel (c: ImportGenerators.ConvCase) =
    let batch = if c.FixedBatch then Some 3L else None

    let b =
        OnnxBuilder([ batch; Some(int64 c.InChannels); Some(int64 c.Size); Some(int64 c.Size) ], c.Seed)

    let w =
        b.Random
            [ int64 c.OutChannels
              int64 (c.InChannels / c.Groups)
              int64 c.Kernel
              int64 c.Kernel ]

    let inputs =
        if c.Bias then
            [ b.InputName; w; b.Random [ int64 c.OutChannels ] ]
        else
            [ b.InputName; w ]

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
let bnPoolModel (c: ImportGenerators.PoolCase) =
    let b =
        OnnxBuilder([ None; Some 2L; Some(int64 c.Size); Some(int64 c.Size) ], c.Seed)

    let ch = 4L

    let y =
        b.Node("Conv", [ b.InputName; b.Random [ ch; 2L; 3L; 3L ] ], [ "pads", Is [ 1L; 1L; 1L; 1L ] ])

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
            let pads =
                b.ConstInts(
                    [ 8L ],
                    [| 0L
                       0L
                       int64 c.Padding
                       int64 c.Padding
                       0L
                       0L
                       int64 c.Padding
                       int64 c.Padding |]
                )

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
let residualModel (c: ImportGenerators.ResidualCase) =
    let b = OnnxBuilder([ None; Some 2L; Some 8L; Some 8L ], c.Seed)

    let conv x cin cout k stride pad =
        let ins = [ x; b.Random [ int64 cout; int64 cin; int64 k; int64 k ] ]
        let ins = if c.Bias then ins @ [ b.Random [ int64 cout ] ] else ins

        b.Node(
            "Conv",
            ins,
            [ "strides", Is [ int64 stride; int64 stride ]
              "pads", Is(List.replicate 4 (int64 pad)) ]
        )

    let bn x ch =
        if c.BatchNorm then
            b.Node(
                "BatchNormalization",
                [ x
                  b.Random [ ch ]
                  b.Random [ ch ]
                  b.Random [ ch ]
                  b.Random([ ch ], 0.5, 2.0) ]
            )
        else
            x

    let stem =
        b.Node("Relu", [ bn (conv b.InputName 2 c.StemChannels 3 1 1) (int64 c.StemChannels) ])

    let block (x, cin) (cout, stride, projection) =
        let y = b.Node("Relu", [ bn (conv x cin cout 3 stride 1) (int64 cout) ])
        let y = bn (conv y cout cout 3 1 1) (int64 cout)

        let s =
            if projection then
                bn (conv x cin cout 1 stride 0) (int64 cout)
            else
                x

        let sum =
            if c.ShortcutFirst then
                b.Node("Add", [ s; y ])
            else
                b.Node("Add", [ y; s ])

        b.Node("Relu", [ sum ]), cout

    let out, ch = c.Blocks |> List.fold block (stem, c.StemChannels)
    let g = b.Node("GlobalAveragePool", [ out ])
    b.Bytes(head b g ch 3)

/// What torch.onnx.export (opset 14) writes for conv-BN-ReLU-AvgPool2d-view-Linear: Conv, BN,
/// Relu, Constant + Pad (zero pads) + AveragePool, Shape/Gather/Unsqueeze/Concat/Reshape, Gemm.
let torchStyle (withBatchNormTrainingMode: bool) =
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
        @ (if withBatchNormTrainingMode then
               [ "training_mode", I 1L ]
           else
               [])

    let bnOut =
        b.NodeN(
            "BatchNormalization",
            [ conv
              b.Random [ 3L ]
              b.Random [ 3L ]
              b.Random [ 3L ]
              b.Random([ 3L ], 0.5, 2.0) ],
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

    let gemm =
        b.Node(
            "Gemm",
            [ flat; b.Random [ 4L; 27L ]; b.Random [ 4L ] ],
            [ "alpha", F 1.0f; "beta", F 1.0f; "transB", I 1L ]
        )

    b.Bytes gemm

let simpleHead (b: OnnxBuilder) x features =
    let f = b.Node("Flatten", [ x ])
    b.Node("Gemm", [ f; b.Random [ 2L; int64 features ] ], [ "transB", I 1L ])

/// QCFS's CIFAR VGG-16 feature extractor (13 conv-BN-ReLU, average pooling) with a 512-512-10
/// head: 15.0 million parameters, exported as torch.onnx.export's training mode would (BN kept).
let vgg16Bytes () =
    let b = OnnxBuilder([ None; Some 3L; Some 32L; Some 32L ], 16)

    let widths =
        [ [ 64; 64 ]
          [ 128; 128 ]
          [ 256; 256; 256 ]
          [ 512; 512; 512 ]
          [ 512; 512; 512 ] ]

    let block (x, cin) (cout: int) =
        let scale = 1.0 / sqrt (float (cin * 9))
        let w = b.Random([ int64 cout; int64 cin; 3L; 3L ], -scale, scale)
        let c = b.Node("Conv", [ x; w ], [ "pads", Is [ 1L; 1L; 1L; 1L ] ])
        let ch = int64 cout

        let n =
            b.Node(
                "BatchNormalization",
                [ c
                  b.Random([ ch ], 0.5, 1.5)
                  b.Random [ ch ]
                  b.Random [ ch ]
                  b.Random([ ch ], 0.5, 2.0) ]
            )

        b.Node("Relu", [ n ]), cout

    let stage (x, cin) ws =
        let y, c = ws |> List.fold block (x, cin)
        b.Node("AveragePool", [ y ], [ "kernel_shape", Is [ 2L; 2L ]; "strides", Is [ 2L; 2L ] ]), c

    let features, _ = widths |> List.fold stage (b.InputName, 3)
    let f = b.Node("Flatten", [ features ])

    let h =
        b.Node(
            "Relu",
            [ b.Node("Gemm", [ f; b.Random([ 512L; 512L ], -0.04, 0.04); b.Random [ 512L ] ], [ "transB", I 1L ]) ]
        )

    b.Bytes(b.Node("Gemm", [ h; b.Random([ 10L; 512L ], -0.04, 0.04); b.Random [ 10L ] ], [ "transB", I 1L ]))

/// Opset 10: Conv -> Clip(min 0, max 6 as attributes) -> Dropout -> Identity -> Reshape to a
/// constant [0, -1] (or [-1, F] with a fixed batch of 2) -> Gemm (transB = 0, scalar C).
let olderOps (fixedBatch: bool) =
    let b =
        OnnxBuilder([ (if fixedBatch then Some 2L else None); Some 2L; Some 4L; Some 4L ], 11, 10L)

    let c =
        b.Node("Conv", [ b.InputName; b.Random [ 2L; 2L; 3L; 3L ]; b.Random [ 2L ] ], [ "pads", Is [ 1L; 1L; 1L; 1L ] ])

    let a = b.Node("Clip", [ c ], [ "min", F 0.0f; "max", F 0.6f ])
    let d = b.Node("Dropout", [ a ], [ "ratio", F 0.5f ])
    let i = b.Node("Identity", [ d ])

    let target =
        if fixedBatch then
            b.Ints([ 2L ], [| -1L; 32L |])
        else
            b.Ints([ 2L ], [| 0L; -1L |])

    let r = b.Node("Reshape", [ i; target ])
    b.Bytes(b.Node("Gemm", [ r; b.Random [ 32L; 3L ]; b.Init([ 1L ], [| 0.25f |]) ], [ "transB", I 0L ]))

/// A small model for Fashion-MNIST images (the pipeline tests import it): Conv 1->4 (pad 1) ->
/// BatchNormalization -> Relu, or Clip(0, clipMax) when given -> AveragePool 2 -> Conv 4->4 (pad 1)
/// -> Relu -> AveragePool 2 -> Flatten -> Gemm to 10 classes; random weights from `seed`.
let fashionModel (seed: int) (clipMax: float option) =
    let b = OnnxBuilder([ None; Some 1L; Some 28L; Some 28L ], seed)
    let pads = "pads", Is [ 1L; 1L; 1L; 1L ]
    let pool = [ "kernel_shape", Is [ 2L; 2L ]; "strides", Is [ 2L; 2L ] ]

    let c1 =
        b.Node("Conv", [ b.InputName; b.Random [ 4L; 1L; 3L; 3L ]; b.Random [ 4L ] ], [ pads ])

    let bn =
        b.Node(
            "BatchNormalization",
            [ c1
              b.Random([ 4L ], 0.5, 1.5)
              b.Random [ 4L ]
              b.Random([ 4L ], -0.2, 0.2)
              b.Random([ 4L ], 0.5, 2.0) ]
        )

    let a1 =
        match clipMax with
        | Some m -> b.Node("Clip", [ bn; b.Init([], [| 0.0f |]); b.Init([], [| float32 m |]) ])
        | None -> b.Node("Relu", [ bn ])

    let p1 = b.Node("AveragePool", [ a1 ], pool)

    let c2 =
        b.Node("Conv", [ p1; b.Random [ 4L; 4L; 3L; 3L ]; b.Random [ 4L ] ], [ pads ])

    let a2 = b.Node("Relu", [ c2 ])
    let p2 = b.Node("AveragePool", [ a2 ], pool)
    b.Bytes(head b p2 (4 * 7 * 7) 10)
