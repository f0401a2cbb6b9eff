module Snn.Core.Tests.Calibration.TrainableNetworkTests

open Expecto
open TorchSharp
open Snn.Core.Simulation
open Snn.Core.Calibration

/// Gradients of a one-neuron network computed by hand in float32: products of numbers like 0.6 and 2.
let gradientTolerance = 1e-6

/// A spiking MLP 6 -> 16 -> 12 -> 3 with random weights (float32), fc2 with a bias or not, and a batch of random images.
let private mlpWith (fc2Bias: bool) (g: torch.Generator) =
    let randn (shape: int64[]) = torch.randn (shape, generator = g)

    let net =
        SpikingNetworkBuilder([| 6L |], torch.float32)
            .Layer(
                "fc1",
                Synapse.Linear(randn [| 16L; 6L |] * torch.tensor 0.7f, randn [| 16L |] * torch.tensor 0.1f),
                1.0
            )
            .Layer(
                "fc2",
                Synapse.Linear(
                    randn [| 12L; 16L |] * torch.tensor 0.5f,
                    (if fc2Bias then
                         randn [| 12L |] * torch.tensor 0.1f
                     else
                         null)
                ),
                0.8
            )
            .Output("fc3", Synapse.Linear(randn [| 3L; 12L |], null))
            .Build()

    net, randn [| 32L; 6L |]

let private mlp = mlpWith false

/// One input feature -> one IF neuron (w = 1, b = 0, theta = 1, v(0) = theta / 2) -> output weight u = 2.
let private oneNeuron () =
    SpikingNetworkBuilder([| 1L |], torch.float32)
        .Layer("fc1", Synapse.Linear(torch.ones (1L, 1L), torch.zeros 1L), 1.0)
        .Output("fc2", Synapse.Linear(torch.full (1L, 1L, 2.0f), null))
        .Build()

/// The gradient of each parameter after backward of the summed logits at T, in TrainableNetwork's order
/// (fc1 W, fc2 W, fc1 b, fc1 v(0), fc1 alpha); None where no gradient reached it.
let private gradientsWith (gradient: FineTuneGradient) (detachReset: bool) (net: SpikingNetwork) (x: float32) (t: int) =
    use model = new TrainableNetwork(net, 2.5, detachReset, false, gradient)

    let logits = model.Forward(torch.full (1L, 1L, x), t)
    logits.sum().backward ()

    [ for p in model.Parameters ->
          match p.grad with
          | null -> None
          | g -> Some(g.sum().item<float32> () |> float) ]

let private gradients = gradientsWith FineTuneGradient.Rate true

/// A gradient equals its hand-computed value within gradientTolerance.
let private close (expected: float) (actual: float) what =
    Expect.floatClose
        { absolute = gradientTolerance
          relative = 0.0 }
        actual
        expected
        what

[<Tests>]
let tests =
    testList
        "TrainableNetwork"
        [ test
              "the rate gradient's forward is bit for bit the surrogate's: the same logits and the same per-step outputs" {
              use scope = torch.NewDisposeScope()
              use g = new torch.Generator(11UL)
              let net, images = mlp g

              for t in [ 1; 2; 4 ] do
                  use surrogate = new TrainableNetwork(net, 2.5, true)

                  use rate = new TrainableNetwork(net, 2.5, true, false, FineTuneGradient.Rate)

                  Expect.isTrue
                      (surrogate.Forward(images, t).eq(rate.Forward(images, t)).all().item<bool> ())
                      $"T = {t}: the readout"

                  Expect.isTrue
                      (surrogate.ForwardSteps(images, t).eq(rate.ForwardSteps(images, t)).all().item<bool> ())
                      $"T = {t}: every step's output"
          }

          test
              "rate gradient, one neuron at T = 2: d/dw = u x, d/db = u, d/dv(0) = u / T inside (0, theta), none through alpha, 0 when saturated" {
              use scope = torch.NewDisposeScope()

              // x = 0.6: v = 0.5 + 0.6 = 1.1 fires at step 1, 0.1 + 0.6 = 0.7 does not at step 2, so the rate is 0.5;
              // the proxy min(max(0.6 + (0.5 - 0.5) / 2, 0), 1) = 0.6 lies inside (0, 1).
              match gradients (oneNeuron ()) 0.6f 2 with
              | [ Some w1; Some u; Some b1; Some v0; alpha ] ->
                  close (2.0 * 0.6) w1 "fc1 weight: u x"
                  close 0.5 u "fc2 weight: the exact rate theta n / T = 0.5"
                  close 2.0 b1 "fc1 bias: u"
                  close 1.0 v0 "v(0): u / T"
                  Expect.isTrue (alpha |> Option.forall ((=) 0.0)) "the surrogate slope gets no gradient"
              | gs -> failtestf "expected the five parameters with gradients, got %A" gs

              // x = 2: the neuron fires at both steps and the proxy is clipped at theta, so nothing reaches fc1.
              match gradients (oneNeuron ()) 2.0f 2 with
              | [ Some w1; Some u; Some b1; Some v0; _ ] ->
                  Expect.equal (w1, b1, v0) (0.0, 0.0, 0.0) "saturated: no gradient to fc1's weight, bias or v(0)"
                  close 1.0 u "fc2 weight: the rate theta"
              | gs -> failtestf "expected the five parameters with gradients, got %A" gs
          }

          test "BPTT, one neuron at T = 2: the reset passes its gradient to step 2 only when it is not detached" {
              use scope = torch.NewDisposeScope()
              // x = 0.6, theta = 1, alpha = 2.5, u = 2: v(1) = 1.1 fires, v(2) = 0.1 + 0.6 = 0.7 does not;
              // d out / dw = (u theta / 2) (g'(0.1) x + g'(-0.3) dv(2)/dw), dv(2)/dw = 2x, less theta g'(0.1) x
              // when the reset v(1) - theta s(1) is differentiated; g'(d) = alpha / 2 (1 - tanh^2(alpha d)).
              let x, alpha = 0.6, 2.5

              let g' d =
                  alpha / 2.0 * (1.0 - tanh (alpha * d) ** 2.0)

              let dOut dv2 =
                  (2.0 / 2.0) * (g' 0.1 * x + g' -0.3 * dv2)

              let w1 detach =
                  match gradientsWith FineTuneGradient.Surrogate detach (oneNeuron ()) (float32 x) 2 with
                  | Some w :: _ -> w
                  | gs -> failtestf "expected a gradient to fc1's weight, got %A" gs

              close (dOut (2.0 * x)) (w1 true) "detached reset"
              close (dOut (2.0 * x - g' 0.1 * x)) (w1 false) "differentiated reset"
          }
          test
              "batch norm starts as the identity: the readout before training is the plain one, on the first training batch within float32" {
              use scope = torch.NewDisposeScope()
              use g = new torch.Generator(13UL)
              let net, images = mlpWith true g
              use plain = new TrainableNetwork(net, 2.5, true)
              use normed = new TrainableNetwork(net, 2.5, true, batchNorm = true)

              for t in [ 1; 2; 4 ] do
                  let expected = plain.Forward(images, t)

                  Expect.isTrue
                      (normed.Forward(images, t).equal(expected).all().item<bool> ())
                      $"T = {t}: unset, bit for bit"

              normed.Training <- true
              let expected = plain.Forward(images, 2)

              let gap =
                  (normed.Forward(images, 2) - expected).abs().max().item<float32> () |> float

              Expect.isLessThanOrEqual
                  gap
                  1e-4
                  "the first training batch: each current normalised by its own statistics and mapped back"
          }

          test
              "batch norm folds into the synapses: the written-back network reads out what the model reads with its running statistics" {
              use scope = torch.NewDisposeScope()
              use g = new torch.Generator(17UL)
              let net, images = mlpWith true g
              use model = new TrainableNetwork(net, 2.5, true, batchNorm = true)
              model.Training <- true

              for _ in 1..3 do
                  let out = model.Forward(torch.randn ([| 32L; 6L |], generator = g), 2)
                  (out * out).mean().backward ()

                  use _ = torch.no_grad ()

                  for p in model.Parameters do
                      p.sub_ (p.grad * 0.05) |> ignore
                      p.grad.zero_ () |> ignore

              model.Training <- false
              let expected = model.Forward(images, 2)
              model.WriteBack()
              use folded = new TrainableNetwork(net, 2.5, true)

              let gap =
                  (folded.Forward(images, 2) - expected).abs().max().item<float32> () |> float

              Expect.isGreaterThan
                  (expected.abs().max().item<float32> () |> float)
                  0.1
                  "a readout that is not all zeros"

              Expect.isLessThanOrEqual gap 1e-4 "the folded network's readout"
          }

          test "batch norm needs every synapse into a spiking layer to have a bias: refused naming the layer" {
              use scope = torch.NewDisposeScope()
              use g = new torch.Generator(19UL)
              let net, _ = mlp g

              Expect.throwsC (fun () -> new TrainableNetwork(net, 2.5, true, batchNorm = true) |> ignore) (fun e ->
                  Expect.stringContains e.Message "layer fc2" "names the layer without a bias")
          } ]
