/// Generated inputs of the activations (QC_L, clip, the fused float32 kernels) and constant neuron inputs, each with the model of its expected result; the shared pieces are in Generators.
module Snn.Core.Tests.ActivationGenerators

open System
open FsCheck
open FsCheck.FSharp
open TorchSharp
open Snn.Core.Tests.Generators

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
