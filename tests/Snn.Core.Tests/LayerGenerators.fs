/// Generated layers with the spike counts arriving at them (SOP counting) and float32 error-summary inputs; the shared pieces are in Generators.
module Snn.Core.Tests.LayerGenerators

open System
open FsCheck
open FsCheck.FSharp
open TorchSharp
open Snn.Core.Tests.Generators

// ---------------------------------------------------------------------------------------------
// Layers and spike counts for SOP counting
// ---------------------------------------------------------------------------------------------

/// A small convolution (optionally after a non-overlapping pool of size Pool) and spike counts arriving at it.
type ConvCase =
    {
        Batch: int
        InChannels: int
        Height: int
        Width: int
        OutChannels: int
        Kernel: int
        Stride: int
        Padding: int
        Groups: int
        Pool: int
        /// Counts [B, C, H, W] in row-major order, integers in [0, T].
        Counts: float[]
    }

    member c.CountsTensor() =
        tensorOf [| int64 c.Batch; int64 c.InChannels; int64 c.Height; int64 c.Width |] c.Counts

let convCaseGen =
    gen {
        let! groups = Gen.elements [ 1; 1; 2 ]
        let! inPerGroup = Gen.choose (1, 2)
        let! outPerGroup = Gen.choose (1, 3)
        let! batch = Gen.choose (1, 2)
        let! pool = Gen.elements [ 1; 1; 2 ]
        let! height = Gen.choose (pool, 7)
        let! width = Gen.choose (pool, 7)
        let! padding = Gen.choose (0, 2)
        let! stride = Gen.choose (1, 3)
        let pooledMin = min (height / pool) (width / pool)
        let! kernel = Gen.choose (1, min 4 (pooledMin + 2 * padding))
        let! steps = Gen.choose (1, 8)
        let inChannels = groups * inPerGroup
        let! counts = Gen.arrayOfLength (batch * inChannels * height * width) (Gen.choose (0, steps) |> Gen.map float)

        return
            { Batch = batch
              InChannels = inChannels
              Height = height
              Width = width
              OutChannels = groups * outPerGroup
              Kernel = kernel
              Stride = stride
              Padding = padding
              Groups = groups
              Pool = pool
              Counts = counts }
    }

let shrinkConvCase (c: ConvCase) =
    seq {
        if c.Counts |> Array.exists (fun x -> x > 1.0) then
            yield
                { c with
                    Counts = c.Counts |> Array.map (fun x -> min x 1.0) }

        let nonZero = c.Counts |> Array.filter (fun x -> x > 0.0) |> Array.length

        if nonZero > 1 then
            let first = c.Counts |> Array.findIndex (fun x -> x > 0.0)

            yield
                { c with
                    Counts = c.Counts |> Array.mapi (fun i x -> if i = first then x else 0.0) }
    }

let convCases = Arb.fromGenShrink (convCaseGen, shrinkConvCase)

/// Spike counts [B, in] arriving at a linear layer with out features.
type LinearCase =
    { Batch: int
      InFeatures: int
      OutFeatures: int
      Counts: float[] }

let linearCaseGen =
    gen {
        let! batch = Gen.choose (1, 3)
        let! inFeatures = Gen.choose (1, 12)
        let! outFeatures = Gen.choose (1, 12)
        let! steps = Gen.choose (1, 8)
        let! counts = Gen.arrayOfLength (batch * inFeatures) (Gen.choose (0, steps) |> Gen.map float)

        return
            { Batch = batch
              InFeatures = inFeatures
              OutFeatures = outFeatures
              Counts = counts }
    }

let linearCases =
    Arb.fromGenShrink (
        linearCaseGen,
        fun c ->
            seq {
                if c.Counts |> Array.exists (fun x -> x > 1.0) then
                    yield
                        { c with
                            Counts = c.Counts |> Array.map (fun x -> min x 1.0) }
            }
    )

// ---------------------------------------------------------------------------------------------
// Error summaries of float32 layers
// ---------------------------------------------------------------------------------------------

/// Inputs of ErrorDecomposition.Summarize in float32: z, r, v(T) of shape Shape = [B, ...] and theta, v(0) of
/// their own shapes, broadcastable to Shape (each one element, one per neuron with or without a leading 1,
/// per channel [C, 1, ...], or the full shape). Values are float32, listed in row-major order.
type SummaryCase =
    { Shape: int64[]
      Steps: int
      ThresholdShape: int64[]
      Thresholds: float32[]
      InitialShape: int64[]
      InitialPotentials: float32[]
      MeanInputs: float32[]
      Rates: float32[]
      FinalPotentials: float32[] }

    member private c.Tensor (shape: int64[]) (values: float32[]) =
        torch.tensor(values, dtype = torch.float32).reshape shape

    member c.MeanInputTensor = c.Tensor c.Shape c.MeanInputs
    member c.RateTensor = c.Tensor c.Shape c.Rates
    member c.FinalPotentialTensor = c.Tensor c.Shape c.FinalPotentials
    member c.ThresholdTensor = c.Tensor c.ThresholdShape c.Thresholds
    member c.InitialPotentialTensor = c.Tensor c.InitialShape c.InitialPotentials

/// The row-major index into an operand of shape `operand` (right-aligned, size-1 axes broadcast) read by
/// element i of a tensor of shape `shape`.
let broadcastIndex (shape: int64[]) (operand: int64[]) (i: int) =
    let offset = shape.Length - operand.Length
    let mutable rest = int64 i
    let mutable index = 0L
    let mutable stride = 1L

    for d in shape.Length - 1 .. -1 .. 0 do
        let coordinate = rest % shape.[d]
        rest <- rest / shape.[d]

        if d >= offset then
            let size = operand.[d - offset]

            if size > 1L then
                index <- index + coordinate * stride

            stride <- stride * size

    int index

/// Shapes of theta or v(0) broadcastable to [B; neurons]: one element (0-d or [1]), one per neuron (with or
/// without the leading 1), per channel (neurons' first axis, the others 1), or the full shape.
let broadcastShape (shape: int64[]) =
    let neurons = shape.[1..]

    Gen.elements
        [ [||]
          [| 1L |]
          neurons
          Array.append [| 1L |] neurons
          (if neurons.Length > 0 then
               Array.append [| neurons.[0] |] (Array.create (neurons.Length - 1) 1L)
           else
               [| 1L |])
          shape ]

let summaryCaseGen =
    gen {
        let! batch = Gen.choose (1, 4)
        let! rank = Gen.choose (0, 3)
        let! rest = Gen.arrayOfLength rank (Gen.choose (1, 6))
        let shape = Array.append [| int64 batch |] (rest |> Array.map int64)
        let count = shape |> Array.reduce (*) |> int
        let! steps = Gen.frequency [ 3, Gen.choose (1, 64); 1, Gen.elements [ 1; 2; 4; 8; 16; 32; 64 ] ]
        let! thresholdShape = broadcastShape shape
        let! initialShape = broadcastShape shape
        let size (s: int64[]) = s |> Array.fold (*) 1L |> int
        // Dyadic thresholds m / 8 make the half steps (k + 1/2) theta / T exact when T is a power of two.
        let dyadic = Gen.choose (1, 64) |> Gen.map (fun m -> float32 m / 8.0f)
        let! thresholds = Gen.arrayOfLength (size thresholdShape) (Gen.oneof [ dyadic; threshold |> Gen.map float32 ])

        let thetaOf i =
            thresholds.[broadcastIndex shape thresholdShape i]

        let scale = Array.max thresholds

        let! initials =
            Gen.arrayOfLength
                (size initialShape)
                (Gen.frequency
                    [ 1, Gen.constant (scale / 2.0f)
                      2, uniform (float -scale) (2.0 * float scale) |> Gen.map float32 ])

        let meanInput (theta: float32) =
            let t = float theta

            Gen.frequency
                [ 3, uniform (-2.0 * t) (3.0 * t) |> Gen.map float32
                  2,
                  Gen.choose (-2, steps + 2)
                  |> Gen.map (fun k -> float32 ((float k + 0.5) * t / float steps))
                  1, Gen.elements [ 0.0f; -0.0f; theta; -theta; 2.0f * theta ] ]

        let rate (theta: float32) =
            Gen.frequency
                [ 2,
                  Gen.choose (0, steps)
                  |> Gen.map (fun k -> float32 (float k * float theta / float steps))
                  1, uniform (-float theta) (2.0 * float theta) |> Gen.map float32 ]

        let finalPotential (theta: float32) =
            Gen.frequency
                [ 2, uniform (-float theta) (2.0 * float theta) |> Gen.map float32
                  1, Gen.elements [ 0.0f; -0.0f; theta; MathF.BitDecrement theta; MathF.BitIncrement 0.0f ] ]

        let perElement g =
            Array.init count (thetaOf >> g) |> Gen.sequenceToArray

        let! z = perElement meanInput
        let! r = perElement rate
        let! vT = perElement finalPotential

        return
            { Shape = shape
              Steps = steps
              ThresholdShape = thresholdShape
              Thresholds = thresholds
              InitialShape = initialShape
              InitialPotentials = initials
              MeanInputs = z
              Rates = r
              FinalPotentials = vT }
    }

/// Shrinks towards T = 1 (the values stay valid for any T).
let summaryCases =
    Arb.fromGenShrink (
        summaryCaseGen,
        fun c ->
            seq {
                if c.Steps > 1 then
                    yield { c with Steps = c.Steps / 2 }
            }
    )
