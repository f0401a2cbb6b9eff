/// Where test inputs are generated, with ActivationGenerators and LayerGenerators. Each generator produces
/// the input together with a simple model of its expected result (e.g. a neuron input sequence with its
/// scalar reference run), and each Arbitrary shrinks towards shorter, smaller, rounder inputs, recomputing
/// the model for every candidate.
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
