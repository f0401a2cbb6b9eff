module Snn.Core.Tests.Calibration.NetworkFineTuneTests

open System
open Expecto
open TorchSharp
open Snn.Core.Simulation
open Snn.Core.Calibration
open Snn.Core.Training

/// Accuracies are counts over the same images: the kept network must score exactly what the history says.
let accuracyTolerance = 1e-9

/// float32 sums in another order: outputs of order 1-10.
let outputTolerance = 1e-5

/// A spiking MLP on 6 features (float32) and labelled batches of a rule it can learn: the class is the
/// argmax of a fixed linear map of the features. Drawn from the test's own generator.
let private problem (g: torch.Generator) =
    let randn (shape: int64[]) = torch.randn (shape, generator = g)
    let rule = randn [| 3L; 6L |]

    let net =
        SpikingNetworkBuilder([| 6L |], torch.float32)
            .Layer("fc1", Synapse.Linear(randn [| 16L; 6L |] * torch.tensor 0.5f, torch.zeros 16L), 1.0)
            .Output("fc2", Synapse.Linear(randn [| 3L; 16L |] * torch.tensor 0.5f, null))
            .Build()

    let batch () =
        let x = randn [| 32L; 6L |]
        struct (x, torch.nn.functional.linear(x, rule).argmax 1L)

    net, batch

/// Fine-tunes `net` at T on copies of the same training batches every epoch (the fine-tune disposes
/// the batches it is given).
let private fineTuneOn net (train: struct (torch.Tensor * torch.Tensor) list) heldOut (t: int) options =
    NetworkFineTune.FineTune(
        net,
        (fun _ -> train |> Seq.map (fun struct (x, y) -> struct (x.clone (), y.clone ()))),
        ResizeArray<struct (torch.Tensor * torch.Tensor)>(heldOut: struct (torch.Tensor * torch.Tensor) list),
        t,
        options
    )

/// Accuracy (%) of the network as the simulator runs it.
let private simulatedAccuracy (net: SpikingNetwork) (batches: struct (torch.Tensor * torch.Tensor) list) t =
    let mutable correct = 0L
    let mutable seen = 0L

    for struct (x, y) in batches do
        use result = net.Run(x, t)
        correct <- correct + result.Output.argmax(1L).eq(y).sum().item<int64> ()
        seen <- seen + y.shape[0]

    100.0 * float correct / float seen

/// The problem (generator seed 7) fine-tuned at T on 8 training batches, scored on 4 held-out ones:
/// the network, the held-out batches and the history.
let private tunedProblem t options =
    use g = new torch.Generator(7UL)
    let net, batch = problem g
    let heldOut = List.init 4 (fun _ -> batch ())
    let train = List.init 8 (fun _ -> batch ())
    net, heldOut, fineTuneOn net train heldOut t options

[<Tests>]
let tests =
    testList
        "NetworkFineTune"
        [ test
              "the kept weights score, in the simulator, the best held-out accuracy of the history, never below the start" {
              use scope = torch.NewDisposeScope()
              use g = new torch.Generator(7UL)
              let net, batch = problem g
              let t = 4
              let heldOut = List.init 4 (fun _ -> batch ())
              let train = List.init 8 (fun _ -> batch ())
              let before = simulatedAccuracy net heldOut t

              let history =
                  fineTuneOn net train heldOut t (NetworkFineTuneOptions(LearningRate = 1e-2, Epochs = 4))

              let accuracies = List.ofSeq history.HeldOutAccuracy
              Expect.equal accuracies.Length 5 "the start and one entry per epoch"

              Expect.floatClose
                  { absolute = accuracyTolerance
                    relative = 0.0 }
                  accuracies[0]
                  before
                  "entry 0 is the network as it was, scored by the simulator"

              Expect.equal accuracies[history.BestEpoch] (List.max accuracies) "the kept epoch is the best"

              Expect.isGreaterThan
                  (List.max accuracies)
                  before
                  "four epochs at lr 1e-2 learn something of a linear rule"

              let after = simulatedAccuracy net heldOut t

              Expect.floatClose
                  { absolute = accuracyTolerance
                    relative = 0.0 }
                  after
                  accuracies[history.BestEpoch]
                  "the simulator scores the kept weights as recorded"

              Expect.equal history.TrainLoss.Count 4 "one training loss per epoch"
          }

          test "held-out images on another device than the network's are refused, naming both, before any work" {
              use scope = torch.NewDisposeScope()
              use g = new torch.Generator(7UL)
              let net, _ = problem g
              let meta = torch.Device DeviceType.META

              let heldOut =
                  [ struct (torch.zeros ([| 4L; 6L |], device = meta), torch.zeros ([| 4L |], torch.int64, meta)) ]

              Expect.throwsC
                  (fun () ->
                      NetworkFineTune.FineTune(
                          net,
                          (fun _ -> failwith "no training before the check"),
                          ResizeArray(heldOut),
                          2
                      )
                      |> ignore)
                  (fun e ->
                      Expect.stringContains e.Message "heldOut are on meta" "names the argument and its device"
                      Expect.stringContains e.Message "the network on cpu" "names the network's device")
          }

          test "the schedule gives the rate of every step, counted across epochs from 0" {
              use scope = torch.NewDisposeScope()
              use g = new torch.Generator(7UL)
              let net, batch = problem g
              let train = List.init 3 (fun _ -> batch ())
              let asked = Collections.Generic.List<int64>()

              let schedule =
                  { new ILearningRateSchedule with
                      member _.RateAt step =
                          asked.Add step
                          1e-3 }

              fineTuneOn net train ([ batch () ]) 2 (NetworkFineTuneOptions(Schedule = schedule, Epochs = 2))
              |> ignore

              Expect.sequenceEqual asked [ 0L .. 5L ] "one rate per batch, steps 0-2 then 3-5"
          }

          test "the options' objective replaces cross-entropy: a zero loss leaves the network as it was" {
              use scope = torch.NewDisposeScope()
              use g = new torch.Generator(7UL)
              let net, batch = problem g
              let heldOut = List.init 4 (fun _ -> batch ())
              let train = List.init 8 (fun _ -> batch ())
              let shapes = Collections.Generic.List<int64[]>()

              let zero =
                  TrainingLoss(fun _ logits _ ->
                      shapes.Add logits.shape
                      logits.sum () * torch.tensor 0.0f)

              let history =
                  fineTuneOn net train heldOut 4 (NetworkFineTuneOptions(LearningRate = 1e-2, Epochs = 2, Loss = zero))

              Expect.equal shapes.Count 16 "called once per batch"
              Expect.sequenceEqual shapes[0] [| 32L; 3L |] "with the network's output [B, K]"
              Expect.allEqual history.HeldOutAccuracy history.HeldOutAccuracy[0] "no gradient, no change"
              Expect.sequenceEqual history.TrainLoss [ 0.0; 0.0 ] "the objective's value is the loss recorded"
          }

          test "per-step loss (TET): the objective sees each step's output, whose mean over T is the readout" {
              use scope = torch.NewDisposeScope()
              use g = new torch.Generator(7UL)
              let net, batch = problem g
              let t = 4
              let train = [ batch () ]

              let outputs perStep =
                  let seen = Collections.Generic.List<torch.Tensor>()

                  let zero =
                      TrainingLoss(fun _ logits _ ->
                          seen.Add(logits.detach().clone().DetachFromDisposeScope())
                          logits.sum () * torch.tensor 0.0f)

                  fineTuneOn
                      net
                      train
                      ([ batch () ])
                      t
                      (NetworkFineTuneOptions(Epochs = 1, Loss = zero, PerStepLoss = perStep))
                  |> ignore

                  List.ofSeq seen

              let readout = outputs false |> List.exactlyOne
              let steps = outputs true
              Expect.equal steps.Length t "one call per step"
              Expect.sequenceEqual steps[0].shape [| 32L; 3L |] "each with a step's output [B, K]"
              let mean = (torch.stack steps).mean [| 0L |]

              Expect.isTrue
                  (mean.allclose (readout, rtol = 0.0, atol = float outputTolerance))
                  "the mean of the per-step outputs is the readout"

              Expect.isFalse (steps[0].allclose steps[t - 1]) "the steps differ (the check is not of a constant)"
          }

          test "averaged weights: decay 0 is the plain fine-tune; after one step the kept average is 0.1 p0 + 0.9 p1" {
              use scope = torch.NewDisposeScope()

              let tune decay =
                  use g = new torch.Generator(11UL)
                  let net, batch = problem g
                  let train = [ batch () ]
                  let start = net.Layers[0].Inputs[0].Synapse.Weight.clone ()

                  let history =
                      fineTuneOn
                          net
                          train
                          train
                          2
                          (NetworkFineTuneOptions(LearningRate = 5e-2, Epochs = 1, AverageDecay = decay))

                  history, start, net.Layers[0].Inputs[0].Synapse.Weight

              let plain, p0, p1 = tune (System.Nullable())
              let zero, _, w0 = tune (System.Nullable 0.0)
              Expect.sequenceEqual zero.HeldOutAccuracy plain.HeldOutAccuracy "decay 0 scores as the plain run"
              Expect.isTrue (w0.eq(p1).all().item<bool> ()) "and keeps its weights"
              let averaged, _, w = tune (System.Nullable 0.5)

              Expect.equal
                  (plain.BestEpoch, averaged.BestEpoch)
                  (1, 1)
                  "both runs keep the step (the check is not of the start)"

              let expected = p0 * torch.tensor 0.1f + p1 * torch.tensor 0.9f

              Expect.isTrue
                  (w.allclose (expected, rtol = 0.0, atol = float outputTolerance))
                  "d' = min(0.5, 1 / 10) at the first step"
          }

          test
              "learned thresholds (DIET-SNN) move, and the simulator scores the kept network, thresholds included, as recorded; fixed by default, bit for bit" {
              use scope = torch.NewDisposeScope()

              let tune learn =
                  tunedProblem 4 (NetworkFineTuneOptions(LearningRate = 1e-2, Epochs = 4, LearnThresholds = learn))

              let fixedNet, _, fixedHistory = tune false

              Expect.isTrue
                  (fixedNet.Layers[0].Threshold.eq(torch.tensor 1.0f).all().item<bool> ())
                  "the default leaves theta = 1 exactly"

              Expect.isGreaterThan fixedHistory.BestEpoch 0 "the fixed run kept a trained epoch too"
              let net, heldOut, history = tune true
              Expect.isGreaterThan history.BestEpoch 0 "a trained epoch is kept (the check is not of the start)"
              let theta = net.Layers[0].Threshold.item<float32> ()
              Expect.notEqual theta 1.0f "the kept theta moved"
              Expect.isGreaterThanOrEqual (float theta) TrainableNetwork.ThresholdFloor "and stays above its floor"

              Expect.floatClose
                  { absolute = accuracyTolerance
                    relative = 0.0 }
                  (simulatedAccuracy net heldOut 4)
                  history.HeldOutAccuracy[history.BestEpoch]
                  "the simulator, with the learned theta, scores the kept network as recorded"
          }

          test "a learned threshold pushed to or below zero is lifted back to 1 % of its start, and written back so" {
              use scope = torch.NewDisposeScope()
              use g = new torch.Generator(7UL)
              let net, _ = problem g
              use model = new TrainableNetwork(net, 2.5, true, true)
              let theta = model.Parameters |> Seq.last

              Expect.equal
                  (theta.item<float32> ())
                  1.0f
                  "the last parameter is fc1's theta (after weights, biases, v(0), slopes)"

              use _ = torch.no_grad ()
              theta.fill_ (-3.0) |> ignore
              model.KeepThresholdsPositive()
              Expect.equal (theta.item<float32> ()) 0.01f "lifted to 0.01 theta(start)"
              model.WriteBack()
              Expect.equal (net.Layers[0].Threshold.item<float32> ()) 0.01f "the network gets the lifted theta"
          }

          test "settings out of range are refused naming the setting" {
              Expect.throwsC (fun () -> NetworkFineTuneOptions(LearningRate = 0.0).Validate()) (fun e ->
                  Expect.stringContains e.Message "LearningRate" "names the learning rate")

              Expect.throwsC (fun () -> NetworkFineTuneOptions(Epochs = 0).Validate()) (fun e ->
                  Expect.stringContains e.Message "epochs" "names the epochs")

              Expect.throwsC (fun () -> NetworkFineTuneOptions(AverageDecay = 1.0).Validate()) (fun e ->
                  Expect.stringContains e.Message "AverageDecay" "names the decay")

              Expect.throwsC
                  (fun () -> NetworkFineTuneOptions(Gradient = enum<FineTuneGradient> 7).Validate())
                  (fun e -> Expect.stringContains e.Message "Gradient" "names the gradient")

              Expect.throwsC
                  (fun () -> NetworkFineTuneOptions(BatchNorm = true, AverageDecay = 0.9).Validate())
                  (fun e ->
                      Expect.stringContains e.Message "BatchNorm cannot be combined with AverageDecay" "names both")
          }

          test "the rate gradient learns the rule too, and the simulator scores the kept weights as recorded" {
              use scope = torch.NewDisposeScope()
              let t = 2

              let net, heldOut, history =
                  tunedProblem
                      t
                      (NetworkFineTuneOptions(LearningRate = 1e-2, Epochs = 4, Gradient = FineTuneGradient.Rate))

              let accuracies = List.ofSeq history.HeldOutAccuracy
              Expect.isGreaterThan (List.max accuracies) accuracies[0] "four epochs at lr 1e-2 learn something"

              Expect.floatClose
                  { absolute = accuracyTolerance
                    relative = 0.0 }
                  (simulatedAccuracy net heldOut t)
                  accuracies[history.BestEpoch]
                  "the kept weights, as recorded"
          }
          test
              "with batch norm it learns the rule too, and the simulator scores the folded network as recorded, to one image" {
              use scope = torch.NewDisposeScope()
              let t = 2

              let net, heldOut, history =
                  tunedProblem t (NetworkFineTuneOptions(LearningRate = 1e-2, Epochs = 4, BatchNorm = true))

              let accuracies = List.ofSeq history.HeldOutAccuracy
              Expect.isGreaterThan (List.max accuracies) accuracies[0] "four epochs at lr 1e-2 learn something"
              Expect.isGreaterThan history.BestEpoch 0 "a trained epoch kept, so the folding is what is scored"
              // Held-out is scored with the running statistics; the folded synapses compute the same map in
              // another float32 order, which may move a spike that sits on its threshold: one image of 128 at most.
              let oneImage = 100.0 / 128.0

              Expect.floatClose
                  { absolute = oneImage; relative = 0.0 }
                  (simulatedAccuracy net heldOut t)
                  accuracies[history.BestEpoch]
                  "the folded network, as recorded"
          } ]
