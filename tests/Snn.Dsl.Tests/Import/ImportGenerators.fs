/// Generators of ONNX model configurations, each with the simple facts a property checks.
module Snn.Dsl.Tests.Import.ImportGenerators

open FsCheck
open FsCheck.FSharp

/// A Conv node's attributes and its input; `OutputSize` is the ONNX output height (= width).
type ConvCase =
    {
        InChannels: int
        OutChannels: int
        Groups: int
        Kernel: int
        Stride: int
        Padding: int
        Dilation: int
        Bias: bool
        /// Some "SAME_UPPER" / "SAME_LOWER" / "VALID", or None for explicit pads.
        AutoPad: string option
        Size: int
        FixedBatch: bool
        Seed: int
    }

    member c.Extent = c.Dilation * (c.Kernel - 1) + 1

    member c.OutputSize =
        match c.AutoPad with
        | Some "VALID" -> (c.Size - c.Extent) / c.Stride + 1
        | Some _ -> (c.Size + c.Stride - 1) / c.Stride
        | None -> (c.Size + 2 * c.Padding - c.Extent) / c.Stride + 1

    /// Total SAME padding on one axis.
    member c.SameTotal =
        max 0 (((c.Size + c.Stride - 1) / c.Stride - 1) * c.Stride + c.Extent - c.Size)

let convCase: Gen<ConvCase> =
    gen {
        let! groups = Gen.elements [ 1; 1; 2; 3 ]
        let! inPer = Gen.choose (1, 3)
        let! outPer = Gen.choose (1, 3)
        let! kernel = Gen.elements [ 1; 2; 3; 5 ]
        let! stride = Gen.choose (1, 3)
        let! dilation = Gen.elements [ 1; 1; 2 ]
        let! padding = Gen.choose (0, 2)
        let! bias = Gen.elements [ true; false ]
        let! autoPad = Gen.elements [ None; None; Some "SAME_UPPER"; Some "SAME_LOWER"; Some "VALID" ]
        let! size = Gen.choose (4, 11)
        let! fixedBatch = Gen.elements [ true; false ]
        let! seed = Gen.choose (0, 1_000_000)

        return
            { InChannels = groups * inPer
              OutChannels = groups * outPer
              Groups = groups
              Kernel = kernel
              Stride = stride
              Padding = padding
              Dilation = dilation
              Bias = bias
              AutoPad = autoPad
              Size = size
              FixedBatch = fixedBatch
              Seed = seed }
    }
    |> Gen.filter (fun c ->
        let fits =
            match c.AutoPad with
            | Some "VALID" -> c.Extent <= c.Size
            // ONNX Runtime refuses dilation with SAME padding, so it cannot be the reference there.
            | Some _ -> c.Dilation = 1 && c.SameTotal % 2 = 0 && c.Extent <= c.Size + c.SameTotal
            | None -> c.Extent <= c.Size + 2 * c.Padding

        fits && c.OutputSize >= 1)

/// conv 3x3 (pad 1) -> BN -> Clip -> pooling with these parameters (Padding <= Kernel / 2), on
/// a Size x Size input; the zero padding either in a Pad node or in the pool's own pads.
type PoolCase =
    { Size: int
      Kernel: int
      Stride: int
      Padding: int
      ExplicitPad: bool
      Epsilon: float32
      ClipMax: float
      Seed: int }

let poolCase: Gen<PoolCase> =
    gen {
        let! size = Gen.choose (3, 10)
        let! kernel = Gen.choose (1, 4)
        let! stride = Gen.choose (1, 3)
        let! padding = Gen.choose (0, kernel / 2)
        let! explicitPad = Gen.elements [ true; false ]
        let! eps = Gen.elements [ 1e-5f; 1e-3f; 0.1f ]
        let! clipMax = Gen.choose (1, 80) |> Gen.map (fun k -> float k / 10.0)
        let! seed = Gen.choose (0, 1_000_000)

        return
            { Size = size
              Kernel = kernel
              Stride = stride
              Padding = padding
              ExplicitPad = explicitPad
              Epsilon = eps
              ClipMax = clipMax
              Seed = seed }
    }
    |> Gen.filter (fun c -> c.Kernel <= c.Size + 2 * c.Padding)

/// A stem conv and basic blocks (out-channels, stride, projection shortcut) on an 8x8 input.
type ResidualCase =
    {
        StemChannels: int
        Blocks: (int * int * bool) list
        BatchNorm: bool
        /// Convs with biases (before BN they are absorbed into the running mean).
        Bias: bool
        /// The Add lists the shortcut first (exporters write either order).
        ShortcutFirst: bool
        Seed: int
    }

let residualCase: Gen<ResidualCase> =
    gen {
        let! stem = Gen.choose (1, 4)
        let! n = Gen.choose (1, 2)

        let! specs =
            Gen.listOfLength n (Gen.zip3 (Gen.choose (1, 5)) (Gen.elements [ 1; 2 ]) (Gen.elements [ true; false ]))

        let! bn = Gen.elements [ true; false ]
        let! bias = Gen.elements [ true; false ]
        let! first = Gen.elements [ true; false ]
        let! seed = Gen.choose (0, 1_000_000)

        // A shortcut must project where the block changes the shape.
        let blocks =
            specs
            |> List.mapFold
                (fun cin (cout, stride, projection) -> (cout, stride, projection || stride <> 1 || cin <> cout), cout)
                stem
            |> fst

        return
            { StemChannels = stem
              Blocks = blocks
              BatchNorm = bn
              Bias = bias
              ShortcutFirst = first
              Seed = seed }
    }
