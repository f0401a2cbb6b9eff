module Snn.Core.Tests.Calibration.WeightCalibrationTests

open Expecto
open TorchSharp
open Snn.Core.Simulation
open Snn.Core.Calibration
open Snn.Core.Tests.Simulation

/// Largest allowed gap between the reported best held-out loss and a fresh evaluation of the kept state.
let lossTolerance = 1e-9

/// A two-layer spiking MLP on 6 features (float64) and an ANN "teacher" for its first layer:
/// a = clip(W' x, 0, theta) with a W' different from the SNN's weight.
/// The clip bounds of the teacher, held for the process (a temporary Scalar could be collected mid-call).
let private lower, upper = (0.0).ToScalar(), (1.0).ToScalar()

/// Drawn from the test's own generator: whether an epoch improves depends on the draws, so they must not
/// depend on what other tests draw meanwhile.
let private problem (g: torch.Generator) =
    let theta = 1.0
    let half = torch.tensor (0.5, dtype = torch.float64)

    let randn (shape: int64[]) =
        torch.randn (shape, dtype = torch.float64, generator = g)

    let w = randn [| 8L; 6L |] * half
    let teacher = randn [| 8L; 6L |] * half

    let net =
        SpikingNetworkBuilder([| 6L |], torch.float64)
            .Layer("fc1", Synapse.Linear(w, torch.zeros (8L, dtype = torch.float64)), theta)
            .Layer("fc2", Synapse.Linear(randn [| 5L; 8L |], null), theta)
            .Output("fc3", Synapse.Linear(randn [| 3L; 5L |], null))
            .Build()

    let ann (x: torch.Tensor) =
        let a1 = torch.nn.functional.linear(x, teacher).clamp (min = lower, max = upper)

        [| a1; torch.zeros (x.shape[0], 5L, dtype = torch.float64) |]

    net, ann

let private batches (g: torch.Generator) n =
    let half = torch.tensor (0.5, dtype = torch.float64)

    [| for _ in 1..n -> TestNetworks.plus (torch.randn ([| 16L; 6L |], dtype = torch.float64, generator = g)) half |]

/// The held-out KL of layer fc1 as the network now stands (simulated, Heaviside spikes).
let private heldOutLoss (net: SpikingNetwork) ann (heldOut: torch.Tensor[]) t =
    let mutable sum = 0.0
    let mutable count = 0L

    for x in heldOut do
        use result = net.Run(x, t, SimulationOptions(Record = true))
        let target: torch.Tensor[] = ann x

        sum <-
            sum
            + WeightCalibration.KullbackLeibler(target[0], result.Layers[0].Rate).item<float> ()
              * float x.shape[0]

        count <- count + x.shape[0]

    sum / float count

[<Tests>]
let tests =
    testList
        "WeightCalibration"
        [ testCase "weight calibration lowers the held-out KL loss of a small random layer and keeps the best state"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              use g = TestNetworks.generator 17L
              let net, ann = problem g
              use net = net
              let calibration, heldOut = batches g 4, batches g 2
              let t = 4
              let before = heldOutLoss net ann heldOut t
              let options = CalibrationOptions(LearningRate = 1e-2, MaxEpochs = 30, Patience = 30)

              let history =
                  WeightCalibration.CalibrateLayer(net, 0, ann, calibration, heldOut, t, options)

              let after = heldOutLoss net ann heldOut t

              Expect.floatClose
                  { absolute = lossTolerance
                    relative = 0.0 }
                  history.HeldOutLoss[0]
                  before
                  "entry 0 is the loss before training"

              Expect.isGreaterThan history.BestEpoch 0 "some epoch improved"
              Expect.isLessThan after before "held-out loss is lower"

              Expect.floatClose
                  { absolute = lossTolerance
                    relative = 0.0 }
                  after
                  (List.min (List.ofSeq history.HeldOutLoss))
                  "the kept state has the best held-out loss"

              Expect.isLessThan (Seq.last history.TrainLoss) (Seq.head history.TrainLoss) "training loss went down"

          testCase "Phase II passes only the given calibration and held-out batches to the ANN"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              use g = TestNetworks.generator 17L
              let net, ann = problem g
              use net = net
              let calibration, heldOut = batches g 2, batches g 1
              let seen = ResizeArray<torch.Tensor>()

              let spy x =
                  seen.Add x
                  ann x

              let report =
                  PhaseTwo.Calibrate(net, spy, calibration, heldOut, 2, options = CalibrationOptions(MaxEpochs = 2))

              Expect.equal report.Layers.Count 2 "one history per spiking layer"
              let given = Array.append calibration heldOut
              Expect.isNonEmpty seen "the ANN was consulted"
              Expect.all seen (fun x -> given |> Array.exists (fun b -> obj.ReferenceEquals(b, x))) "only given batches"

          testCase "weight calibration rejects an empty held-out set"
          <| fun () ->
              use g = TestNetworks.generator 17L
              let net, ann = problem g
              use net = net

              Expect.throwsT<System.ArgumentException>
                  (fun () -> WeightCalibration.CalibrateLayer(net, 0, ann, batches g 1, [||], 2) |> ignore)
                  "empty held-out set" ]
