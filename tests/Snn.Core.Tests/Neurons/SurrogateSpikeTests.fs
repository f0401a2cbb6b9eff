module Snn.Core.Tests.Neurons.SurrogateSpikeTests

open Expecto
open FsCheck.FSharp
open TorchSharp
open Snn.Core.Neurons

/// Step of the central finite difference (float64).
let finiteDifferenceStep = 1e-6

/// Allowed gap between autograd and the central difference: O(h^2 * g''') plus rounding eps/h.
let finiteDifferenceTolerance = 1e-6

/// Exact equality of two tensors: same shape and every entry equal.
let private same (a: torch.Tensor) (b: torch.Tensor) =
    a.shape = b.shape && (a.eq b).all().item<bool> ()

let private config =
    { FsCheckConfig.defaultConfig with
        maxTest = 1000 }

/// (v, theta, alpha) with v in [-6, 6], theta in [0.05, 5], alpha in [0.1, 10].
let private cases =
    Gen.map3
        (fun v theta alpha -> float v / 1000.0, float theta / 1000.0, float alpha / 1000.0)
        (Gen.choose (-6000, 6000))
        (Gen.choose (50, 5000))
        (Gen.choose (100, 10000))
    |> Arb.fromGen

let private scalar (x: float) requiresGrad =
    torch.tensor(x, dtype = torch.float64).requires_grad_ requiresGrad

/// Autograd gradients of the surrogate spike with respect to v, theta and alpha.
let private gradients v theta alpha =
    use scope = torch.NewDisposeScope()
    let tv, tt, ta = scalar v true, scalar theta true, scalar alpha true
    let s = SurrogateSpike.Apply(tv, tt, ta)
    s.backward ()
    tv.grad.item<float> (), tt.grad.item<float> (), ta.grad.item<float> ()

let private primitive v theta alpha =
    use scope = torch.NewDisposeScope()
    SurrogateSpike.Primitive(scalar v false, scalar theta false, scalar alpha false).item<float> ()

let private central f (x: float) =
    (f (x + finiteDifferenceStep) - f (x - finiteDifferenceStep))
    / (2.0 * finiteDifferenceStep)

[<Tests>]
let tests =
    testList
        "SurrogateSpike"
        [ testPropertyWithConfig
              config
              "the surrogate's backward in v equals a finite-difference derivative of its forward primitive"
          <| Prop.forAll cases (fun (v, theta, alpha) ->
              let gv, _, _ = gradients v theta alpha
              let fd = central (fun x -> primitive x theta alpha) v
              abs (gv - fd) < finiteDifferenceTolerance)

          testPropertyWithConfig
              config
              "the surrogate's backward in alpha equals a finite-difference derivative of its forward primitive"
          <| Prop.forAll cases (fun (v, theta, alpha) ->
              let _, _, ga = gradients v theta alpha
              let fd = central (fun a -> primitive v theta a) alpha
              abs (ga - fd) < finiteDifferenceTolerance)

          testPropertyWithConfig config "the surrogate's backward in theta is minus its backward in v"
          <| Prop.forAll cases (fun (v, theta, alpha) ->
              let gv, gt, _ = gradients v theta alpha
              gt = -gv)

          testPropertyWithConfig config "the closed-form derivatives equal autograd's"
          <| Prop.forAll cases (fun (v, theta, alpha) ->
              use scope = torch.NewDisposeScope()
              let gv, _, ga = gradients v theta alpha
              let tv, tt, ta = scalar v false, scalar theta false, scalar alpha false
              let dv = SurrogateSpike.PotentialDerivative(tv, tt, ta).item<float> ()
              let da = SurrogateSpike.SlopeDerivative(tv, tt, ta).item<float> ()
              abs (dv - gv) < 1e-12 && abs (da - ga) < 1e-12)

          testCase "the surrogate's forward is exactly the Heaviside step of the neuron"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              let v = torch.randn ([| 64L; 33L |], dtype = torch.float32) * 3.0f
              let theta = torch.rand ([| 33L |], dtype = torch.float32) + 0.1f
              let alpha = torch.tensor (2.5f)
              let s = SurrogateSpike.Apply(v, theta, alpha)
              let h = IfNeuron.Fire(v, theta)
              Expect.isTrue (same s h) "forward equals 1[v > theta] bit for bit" ]
