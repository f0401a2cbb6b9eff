module Snn.Core.Tests.Training.TrainerTests

open System
open Expecto
open TorchSharp
open Snn.Core.Activations
open Snn.Core.Training
open Snn.Core.Tests

/// Linear(2 -> 8), noisy QC_2 (p = 0.5: half the activations stay unrounded, drawn from torch's generator), Linear(8 -> 2).
type NoisyNet() as this =
    inherit torch.nn.Module<torch.Tensor, torch.Tensor>("noisy")
    let fc1 = torch.nn.Linear(2L, 8L)
    let act = new QuantizeClipActivation(2, 1.0, 0.5)
    let fc2 = torch.nn.Linear(8L, 2L)
    do this.RegisterComponents()

    override _.forward x =
        fc2.forward (act.forward (fc1.forward x))

/// Sets every parameter of a model from a seeded System.Random (uniform in [-0.5, 0.5]), independent of torch's generator.
let private initialise (seed: int) (model: torch.nn.Module) =
    let random = Random seed
    use _ = torch.no_grad ()

    for p in model.parameters () do
        let values =
            Array.init (int (p.numel ())) (fun _ -> float32 (random.NextDouble() - 0.5))

        use t = torch.tensor(values).reshape p.shape
        p.copy_ t |> ignore

/// 64 points of the plane with label [x0 + x1 > 0], at least 0.1 from the boundary: separable by a line.
let private separable =
    let random = Random 11

    let points =
        Seq.initInfinite (fun _ -> random.NextDouble() * 2.0 - 1.0, random.NextDouble() * 2.0 - 1.0)
        |> Seq.filter (fun (a, b) -> abs (a + b) > 0.1)
        |> Seq.take 64
        |> Seq.toArray

    points |> Array.collect (fun (a, b) -> [| float32 a; float32 b |]),
    points |> Array.map (fun (a, b) -> if a + b > 0.0 then 1L else 0L)

/// The separable set in batches of 16, new tensors each call (the trainer disposes them).
let private batches () =
    let x, y = separable

    seq {
        for b in 0..3 do
            yield
                struct (torch.tensor(x.[b * 32 .. b * 32 + 31]).reshape (16L, 2L),
                        torch.tensor (y.[b * 16 .. b * 16 + 15]))
    }

let private values (model: torch.nn.Module) =
    model.parameters ()
    |> Seq.collect (fun p -> p.detach().contiguous().data<float32>().ToArray())
    |> Seq.toArray

let private evaluate model =
    Trainer.Evaluate(model, batches () |> Seq.map (fun struct (x, y) -> struct (x, y)))

/// One epoch of seeded noisy training from fixed weights; returns the weights after it.
let private noisyEpoch (seed: int64) =
    use model = new NoisyNet()
    initialise 5 model
    use optimizer = torch.optim.SGD(model.parameters (), 0.1)

    Trainer.TrainEpoch(model, optimizer, batches (), ConstantSchedule 0.1, 0L, seed)
    |> ignore

    values model

// Sequenced: TrainEpoch seeds torch's process-wide generator, and noisy QC draws from it; a parallel test
// drawing from it in between would change the draws (and TrainEpoch's seeding would change theirs).
[<Tests>]
let tests =
    testSequenced
    <| testList
        "Trainer"
        [ testCase "a linear classifier learns a separable problem: accuracy 100%, loss falls"
          <| fun () ->
              use model = torch.nn.Linear(2L, 2L)
              initialise 1 model
              use optimizer = torch.optim.SGD(model.parameters (), 0.5)
              let before = evaluate model

              let stats =
                  [ for epoch in 0..29 ->
                        Trainer.TrainEpoch(model, optimizer, batches (), ConstantSchedule 0.5, int64 (epoch * 4), 1L) ]

              let after = evaluate model
              Expect.equal stats.[0].Images 64L "every image once per epoch"
              Expect.equal after.Accuracy 100.0 "all points on the right side"
              Expect.isLessThan after.Loss (before.Loss / 4.0) "the loss fell"
              Expect.isLessThan stats.[29].Loss stats.[0].Loss "the training loss fell"

          testCase "the same seed repeats an epoch of noisy training exactly; another seed does not"
          <| fun () ->
              let first = noisyEpoch 7L
              Expect.equal (noisyEpoch 7L) first "bit-identical weights"
              Expect.notEqual (noisyEpoch 8L) first "the seed decides the noise masks"

          testCase "the learning rate of each batch is the schedule's rate at its global step"
          <| fun () ->
              use model = torch.nn.Linear(2L, 2L)
              initialise 2 model
              use optimizer = torch.optim.SGD(model.parameters (), 1.0)
              let schedule = CosineSchedule(0.3, 12L)
              let seen = Collections.Generic.List<float>()
              let firstStep = 5L

              Trainer.TrainEpoch(
                  model,
                  optimizer,
                  batches (),
                  schedule,
                  firstStep,
                  3L,
                  fun _ _ -> seen.Add (Seq.head optimizer.ParamGroups).LearningRate
              )
              |> ignore

              Expect.sequenceEqual
                  seen
                  [ for s in firstStep .. firstStep + 3L -> schedule.RateAt s ]
                  "rates of steps 5..8"

          testCase "an SGD step moves the weights by exactly the scheduled rate times the gradient"
          <| fun () ->
              use model = torch.nn.Linear(2L, 2L)
              initialise 3 model
              let struct (x, y) = Seq.head (batches ())
              // The gradient at the initial weights, from a copy.
              use copy = torch.nn.Linear(2L, 2L)
              initialise 3 copy
              use loss = torch.nn.functional.cross_entropy (copy.forward x, y)
              loss.backward ()
              let gradient = copy.weight.grad.contiguous().data<float32>().ToArray()
              let before = model.weight.detach().contiguous().data<float32>().ToArray()
              use optimizer = torch.optim.SGD(model.parameters (), 1.0)
              let schedule = CosineSchedule(0.2, 10L)

              Trainer.TrainEpoch(model, optimizer, [ struct (x, y) ], schedule, 4L, 1L)
              |> ignore

              let after = model.weight.detach().contiguous().data<float32>().ToArray()
              let rate = float32 (schedule.RateAt 4L)

              for i in 0 .. before.Length - 1 do
                  Expect.floatClose
                      { absolute = 1e-7
                        relative = Tolerances.float32Relative }
                      (float after.[i])
                      (float (before.[i] - rate * gradient.[i]))
                      $"weight {i}: w - lr(4) g"

          testCase "evaluation reports the mean cross-entropy and the share of correct images"
          <| fun () ->
              use model = torch.nn.Linear(2L, 2L)
              use _ = torch.no_grad ()
              // logits (0, x0 + x1): class 1 wins exactly where x0 + x1 > 0, which is where the label is 1.
              model.weight.copy_ (torch.tensor([| 0.0f; 0.0f; 1.0f; 1.0f |]).reshape (2L, 2L))
              |> ignore

              model.bias.zero_ () |> ignore
              let x, y = separable
              let stats = evaluate model

              let expectedLoss =
                  Array.init 64 (fun i ->
                      let z = float x.[2 * i] + float x.[2 * i + 1]
                      let logSum = log (1.0 + exp z)
                      if y.[i] = 1L then logSum - z else logSum)
                  |> Array.average

              Expect.equal stats.Images 64L "all images"
              Expect.equal stats.Accuracy 100.0 "class 1 has the larger logit exactly where x0 + x1 > 0"
              Expect.floatClose Accuracy.medium stats.Loss expectedLoss "mean cross-entropy"

          testCase
              "a given loss replaces cross-entropy: it sees each batch's images, logits and labels, and its mean is reported"
          <| fun () ->
              use model = torch.nn.Linear(2L, 2L)
              initialise 4 model
              let before = values model
              use optimizer = torch.optim.SGD(model.parameters (), 0.5)
              let seen = Collections.Generic.List<int64 * int64 * int64>()

              // (logits * 0).sum() + 3: a constant 3 with a zero gradient.
              let constant =
                  TrainingLoss(fun images logits labels ->
                      seen.Add(images.shape[0], logits.shape[0], labels.shape[0])
                      (logits * 0.0f).sum () + 3.0f)

              let stats =
                  Trainer.TrainEpoch(model, optimizer, batches (), ConstantSchedule 0.5, 0L, 1L, loss = constant)

              Expect.sequenceEqual seen (List.replicate 4 (16L, 16L, 16L)) "four batches of 16"
              Expect.floatClose Accuracy.veryHigh stats.Loss 3.0 "the loss's mean"
              Expect.equal (values model) before "a zero gradient leaves the weights"

          testCase "no batches give zero images, zero loss and zero accuracy"
          <| fun () ->
              use model = torch.nn.Linear(2L, 2L)
              let stats = Trainer.Evaluate(model, [])
              Expect.equal (stats.Images, stats.Loss, stats.Accuracy) (0L, 0.0, 0.0) "an empty pass"

          testCase "the trainer disposes every batch it was given"
          <| fun () ->
              use model = torch.nn.Linear(2L, 2L)
              use optimizer = torch.optim.SGD(model.parameters (), 0.1)
              let given = batches () |> Seq.toArray

              Trainer.TrainEpoch(model, optimizer, given, ConstantSchedule 0.1, 0L, 1L)
              |> ignore

              for struct (x, y) in given do
                  Expect.isTrue (x.IsInvalid && y.IsInvalid) "images and labels disposed"

          testCase "a negative first step is refused, naming the argument"
          <| fun () ->
              use model = torch.nn.Linear(2L, 2L)
              use optimizer = torch.optim.SGD(model.parameters (), 0.1)

              ArgumentChecks.argumentError "firstStep" [ "-1"; ">= 0" ] (fun () ->
                  Trainer.TrainEpoch(model, optimizer, [], ConstantSchedule 0.1, -1L, 1L)
                  |> ignore) ]
