/// The one place where test inputs are generated. Each generator produces the input together with a simple
/// model of its expected result (e.g. a neuron input sequence with its scalar reference run), and each
/// Arbitrary shrinks towards shorter, smaller, rounder inputs, recomputing the model for every candidate.
module Snn.Core.Tests.Generators

open System
open FsCheck
open FsCheck.FSharp
open TorchSharp
open Snn.Core.Neurons

/// Uniform in [lo, hi] with 31 random bits.
let uniform (lo: float) (hi: float) =
    Gen.choose (0, Int32.MaxValue - 1)
    |> Gen.map (fun i -> lo + (hi - lo) * float i / float (Int32.MaxValue - 1))

/// A threshold theta in [0.05, 8], log-uniform so that small and large thresholds are equally common.
let threshold = uniform (log 0.05) (log 8.0) |> Gen.map exp

/// float64 tensor from an array, reshaped.
let tensorOf (shape: int64[]) (values: float[]) =
    torch.tensor(values, dtype = torch.float64).reshape shape

/// The values of a tensor, as float64, flattened in row-major order.
let valuesOf (t: torch.Tensor) =
    t.detach().cpu().to_type(torch.float64).contiguous().data<float>().ToArray()

// ---------------------------------------------------------------------------------------------
// Neuron input sequences with their scalar reference runs
// ---------------------------------------------------------------------------------------------

/// Inputs of T-step runs of a layer of neurons (shape Shape = [B, ...]), with the scalar reference run of each.
type NeuronCase =
    {
        Shape: int64[]
        /// Currents.[n].[t] = I(t + 1) of neuron n (row-major over Shape).
        Currents: float[][]
        /// One threshold per neuron; when PerNeuronThreshold is false all are equal and the tensor is a scalar.
        Thresholds: float[]
        PerNeuronThreshold: bool
        InitialPotentials: float[]
        /// ScalarIfNeuron.Run of each neuron: the model the tensor neuron must match.
        References: ScalarIfRunResult[]
    }

    member c.Steps = c.Currents.[0].Length
    member c.Count = c.Currents.Length

    /// I(1..T) as a tensor [T, B, ...] of the given dtype.
    member c.CurrentsTensor(dtype: torch.ScalarType) =
        let t, n = c.Steps, c.Count
        let flat = Array.init (t * n) (fun i -> c.Currents.[i % n].[i / n])
        (tensorOf (Array.append [| int64 t |] c.Shape) flat).to_type dtype

    /// theta as a scalar tensor or one value per neuron [B, ...].
    member c.ThresholdTensor(dtype: torch.ScalarType) =
        if c.PerNeuronThreshold then
            (tensorOf c.Shape c.Thresholds).to_type dtype
        else
            torch.tensor (c.Thresholds.[0], dtype = dtype)

    /// v(0) as a tensor [B, ...].
    member c.InitialPotentialTensor(dtype: torch.ScalarType) =
        (tensorOf c.Shape c.InitialPotentials).to_type dtype

/// Builds a case and runs the scalar reference on every neuron.
let neuronCase shape currents (thresholds: float[]) perNeuron (initialPotentials: float[]) =
    { Shape = shape
      Currents = currents
      Thresholds = thresholds
      PerNeuronThreshold = perNeuron
      InitialPotentials = initialPotentials
      References =
        Array.init (Array.length currents) (fun n ->
            ScalarIfNeuron.Run(currents.[n], thresholds.[n], initialPotentials.[n])) }

/// A neuron shape [B, ...] with B in 1..3 and up to three more axes of size 1..3.
let neuronShape =
    gen {
        let! batch = Gen.choose (1, 3)
        let! rank = Gen.choose (0, 3)
        let! rest = Gen.arrayOfLength rank (Gen.choose (1, 3))
        return Array.append [| int64 batch |] (rest |> Array.map int64)
    }

/// One input current for threshold theta: mostly within [0, theta], often outside it, sometimes far out or 0.
let current theta =
    Gen.frequency
        [ 4, uniform 0.0 theta
          3, uniform -theta (2.0 * theta)
          1, uniform (-4.0 * theta) (4.0 * theta)
          1, Gen.constant 0.0 ]

/// v(0) for threshold theta: the paper's theta / 2, or (when free) any value in [-theta, 2 theta].
let initialPotential halfShift theta =
    if halfShift then
        Gen.constant (theta / 2.0)
    else
        Gen.frequency [ 1, Gen.constant (theta / 2.0); 1, uniform -theta (2.0 * theta) ]

/// Continuous random cases: T in 1..16, random shapes, one or per-neuron thresholds.
let neuronCaseGen halfShift =
    gen {
        let! shape = neuronShape
        let count = shape |> Array.reduce (*) |> int
        let! steps = Gen.choose (1, 16)
        let! perNeuron = Gen.elements [ false; true ]
        let! shared = threshold
        let! own = Gen.arrayOfLength count threshold
        let thetas = if perNeuron then own else Array.create count shared

        let! currents =
            thetas
            |> Array.map (fun th -> Gen.arrayOfLength steps (current th))
            |> Gen.sequenceToArray

        let! v0 = thetas |> Array.map (initialPotential halfShift) |> Gen.sequenceToArray
        return neuronCase shape currents thetas perNeuron v0
    }

/// Cases on a dyadic grid: theta = m / 8, I(t) = j theta / 8, v(0) = theta / 2 or j0 theta / 8 (small
/// integers m, j). All partial sums are exact in float32 and float64, so runs in both precisions must agree
/// exactly, including the ties v(t) = theta where the strict comparison v &gt; theta decides.
let gridCaseGen =
    gen {
        let! shape = neuronShape
        let count = shape |> Array.reduce (*) |> int
        let! steps = Gen.choose (1, 16)
        let! perNeuron = Gen.elements [ false; true ]
        let gridTheta = Gen.choose (1, 64) |> Gen.map (fun m -> float m / 8.0)
        let! shared = gridTheta
        let! own = Gen.arrayOfLength count gridTheta
        let thetas = if perNeuron then own else Array.create count shared

        let gridCurrent th =
            Gen.choose (-8, 16) |> Gen.map (fun j -> th * float j / 8.0)

        let! currents =
            thetas
            |> Array.map (fun th -> Gen.arrayOfLength steps (gridCurrent th))
            |> Gen.sequenceToArray

        let gridV0 th =
            Gen.frequency
                [ 2, Gen.constant (th / 2.0)
                  1, Gen.choose (-8, 16) |> Gen.map (fun j -> th * float j / 8.0) ]

        let! v0 = thetas |> Array.map gridV0 |> Gen.sequenceToArray
        return neuronCase shape currents thetas perNeuron v0
    }

/// Shrinks towards fewer steps, a single neuron, and currents rounded to quarters of theta (which stay on
/// the dyadic grid); every candidate gets a freshly computed reference.
let shrinkNeuronCase (c: NeuronCase) =
    seq {
        if c.Steps > 1 then
            yield
                neuronCase
                    c.Shape
                    (c.Currents |> Array.map (fun s -> s.[.. c.Steps - 2]))
                    c.Thresholds
                    c.PerNeuronThreshold
                    c.InitialPotentials

        if c.Count > 1 then
            for n in [ 0; c.Count - 1 ] do
                yield
                    neuronCase
                        [| 1L |]
                        [| c.Currents.[n] |]
                        [| c.Thresholds.[n] |]
                        c.PerNeuronThreshold
                        [| c.InitialPotentials.[n] |]

        let rounded =
            c.Currents
            |> Array.mapi (fun n s ->
                let th = c.Thresholds.[n]
                s |> Array.map (fun i -> Math.Round(i / th * 4.0) / 4.0 * th))

        if rounded <> c.Currents then
            yield neuronCase c.Shape rounded c.Thresholds c.PerNeuronThreshold c.InitialPotentials
    }

/// Continuous cases with any v(0).
let neuronCases = Arb.fromGenShrink (neuronCaseGen false, shrinkNeuronCase)

/// Continuous cases with the half shift v(0) = theta / 2.
let halfShiftCases = Arb.fromGenShrink (neuronCaseGen true, shrinkNeuronCase)

/// Dyadic-grid cases (exact in float32 and float64).
let gridCases = Arb.fromGenShrink (gridCaseGen, shrinkNeuronCase)

// ---------------------------------------------------------------------------------------------
// Activation inputs
// ---------------------------------------------------------------------------------------------

/// Inputs of QC_L / clip: L in 1..32, theta, and values x spread over [-theta, 2 theta] with exact half
/// steps (x = (k + 1/2) theta / L) mixed in, since those are where rounding decides.
type ActivationCase =
    { Levels: int
      Theta: float
      Inputs: float[] }

let activationCaseGen =
    gen {
        let! levels = Gen.choose (1, 32)
        let! theta = threshold

        let input =
            Gen.frequency
                [ 4, uniform -theta (2.0 * theta)
                  1,
                  Gen.choose (-2, 2 * levels + 2)
                  |> Gen.map (fun k -> (float k + 0.5) * theta / float levels)
                  1, Gen.elements [ 0.0; theta; -theta; 2.0 * theta ] ]

        let! count = Gen.choose (1, 24)
        let! inputs = Gen.arrayOfLength count input

        return
            { Levels = levels
              Theta = theta
              Inputs = inputs }
    }

let shrinkActivationCase (c: ActivationCase) =
    seq {
        if c.Inputs.Length > 1 then
            yield { c with Inputs = [| c.Inputs.[0] |] }
            yield { c with Inputs = c.Inputs.[1..] }

        if c.Levels > 1 then
            yield { c with Levels = c.Levels / 2 }
    }

let activationCases = Arb.fromGenShrink (activationCaseGen, shrinkActivationCase)

/// A threshold theta and inputs x kept at least 10 finite-difference steps away from the kinks 0 and theta,
/// for comparing gradients with central finite differences.
let gradientCaseGen =
    gen {
        let! theta = threshold
        let margin = 10.0 * Tolerances.finiteDifferenceStep * theta

        let away =
            uniform -theta (2.0 * theta)
            |> Gen.where (fun x -> abs x > margin && abs (x - theta) > margin)

        let! count = Gen.choose (1, 24)
        let! inputs = Gen.arrayOfLength count away
        let! levels = Gen.choose (1, 32)

        return
            { Levels = levels
              Theta = theta
              Inputs = inputs }
    }

let gradientCases = Arb.fromGenShrink (gradientCaseGen, shrinkActivationCase)

/// Inputs of the fused float32 activations: L in 1..32, theta of either sign (|theta| is used), float32 values x
/// mixing uniform draws over [-|theta|, 2|theta|] with the points where the maths changes case (zeros of both
/// signs, +-|theta|, the half steps (k + 1/2)|theta|/L) and their float32 neighbours, an output gradient g per
/// value, a noise probability p in [0, 0.9] and a 64-bit seed for the rounding draws. Up to 40 values, so
/// both the SIMD loop and the scalar tail of the kernels run.
type FusedCase =
    { Levels: int
      Theta: float32
      Inputs: float32[]
      Gradients: float32[]
      NoiseProbability: float
      Seed: uint64 }

let fusedCaseGen =
    gen {
        let! levels = Gen.choose (1, 32)
        let! magnitude = threshold
        let! negative = Gen.elements [ false; true ]
        let t = float32 magnitude

        let halfStep k =
            float32 ((float k + 0.5) * float t / float levels)

        let special =
            Gen.oneof
                [ Gen.elements [ 0.0f; -0.0f; t; -t; 2.0f * t ]
                  Gen.choose (-2, 2 * levels + 2) |> Gen.map halfStep ]

        let input =
            Gen.frequency
                [ 3, uniform (-magnitude) (2.0 * magnitude) |> Gen.map float32
                  1, special
                  1, special |> Gen.map MathF.BitIncrement
                  1, special |> Gen.map MathF.BitDecrement ]

        let! count = Gen.choose (1, 40)
        let! inputs = Gen.arrayOfLength count input
        let! gradients = Gen.arrayOfLength count (uniform -1.0 1.0 |> Gen.map float32)
        let! p = Gen.frequency [ 1, Gen.constant 0.0; 3, uniform 0.0 0.9 ]
        let! high = Gen.choose (Int32.MinValue, Int32.MaxValue)
        let! low = Gen.choose (Int32.MinValue, Int32.MaxValue)

        return
            { Levels = levels
              Theta = (if negative then -t else t)
              Inputs = inputs
              Gradients = gradients
              NoiseProbability = p
              Seed = (uint64 (uint32 high) <<< 32) ||| uint64 (uint32 low) }
    }

let shrinkFusedCase (c: FusedCase) =
    seq {
        if c.Inputs.Length > 1 then
            yield
                { c with
                    Inputs = [| c.Inputs.[0] |]
                    Gradients = [| c.Gradients.[0] |] }

            yield
                { c with
                    Inputs = c.Inputs.[1..]
                    Gradients = c.Gradients.[1..] }

        if c.Levels > 1 then
            yield { c with Levels = c.Levels / 2 }
    }

let fusedCases = Arb.fromGenShrink (fusedCaseGen, shrinkFusedCase)

// ---------------------------------------------------------------------------------------------
// Constant inputs in [0, theta], away from half-step ties
// ---------------------------------------------------------------------------------------------

/// The largest T used with constant inputs.
let maxConstantSteps = 16

/// A constant current c in [0, theta] (endpoints included) with theta, such that for every T in
/// 1..maxConstantSteps, c T / theta + 1/2 is at least tieMargin away from an integer: on such a half-step tie
/// v(T) = theta exactly and the strict threshold does not fire, so r = QC_T(z) - theta / T (see the
/// neuron's tie test); away from ties the residual must be exactly zero.
let constantInputGen =
    gen {
        let! theta = threshold

        let notTie (c: float) =
            [ 1..maxConstantSteps ]
            |> List.forall (fun t ->
                let a = c * float t / theta + 0.5
                abs (a - Math.Round a) > Tolerances.tieMargin)

        let! fraction =
            Gen.frequency [ 8, uniform 0.0 1.0; 1, Gen.constant 0.0; 1, Gen.constant 1.0 ]
            |> Gen.where (fun f -> notTie (f * theta))

        return theta, fraction * theta
    }

let constantInputs = Arb.fromGen constantInputGen

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
