/// Resumable supervised training: a checkpoint after every epoch; a rerun continues after the
/// last finished epoch and ends with the same numbers as an uninterrupted run (each epoch's data
/// order and noise masks depend only on the seed and the epoch number).
module Snn.Dsl.Pipeline.Training

open System.IO
open System.Text.Json
open TorchSharp
open Snn.Core.Training
open Snn.Core.Checkpoints
open Snn.Dsl.Json

type Tensor = torch.Tensor

/// Learning-rate schedule over the steps of a training run.
type Schedule =
    /// lr(s) = lr0 * (1 + cos(pi * s / S)) / 2 over the S steps of the run.
    | Cosine
    /// lr = lr0 * (1 + cos(pi * e / E)) / 2 through epoch e of E (0-based): PyTorch's CosineAnnealingLR
    /// stepped once per epoch, as the QCFS code trains.
    | CosinePerEpoch
    /// lr(s) = lr0.
    | Constant

/// Stochastic gradient descent with momentum and weight decay.
type Sgd =
    { LearningRate: float
      Momentum: float
      WeightDecay: float
      Schedule: Schedule
      BatchSize: int }

module Sgd =

    /// The paper's training recipe: SGD momentum 0.9, lr 0.05, weight decay 5e-4, cosine, batch 128.
    let paper =
        { LearningRate = 0.05
          Momentum = 0.9
          WeightDecay = 5e-4
          Schedule = Cosine
          BatchSize = 128 }

    /// The QCFS code's recipe (Bu et al. 2022, putshua/SNN_conversion_QCFS): the paper's values with
    /// PyTorch's CosineAnnealingLR(T_max = E) stepped once per epoch.
    let qcfs = { paper with Schedule = CosinePerEpoch }

    let schedule =
        Codec.enum [ "cosine", Cosine; "cosine_per_epoch", CosinePerEpoch; "constant", Constant ]

    /// The optimizer's JSON: learning_rate, momentum and weight_decay required; schedule and
    /// batch_size default to those of `defaults` (the step's own recipe).
    let codecDefaulting (defaults: Sgd) : Codec<Sgd> =
        Codec.record (fun lr m wd s b ->
            { LearningRate = lr
              Momentum = m
              WeightDecay = wd
              Schedule = s
              BatchSize = b })
        |> Codec.field "learning_rate" _.LearningRate Codec.float
        |> Codec.field "momentum" _.Momentum Codec.float
        |> Codec.field "weight_decay" _.WeightDecay Codec.float
        |> Codec.fieldOr "schedule" _.Schedule schedule defaults.Schedule
        |> Codec.fieldOr "batch_size" _.BatchSize Codec.int defaults.BatchSize
        |> Codec.build

    /// The optimizer's JSON with the paper's defaults (schedule "cosine", batch_size 128).
    let codec: Codec<Sgd> = codecDefaulting paper

    /// Every problem with the settings (prefixed with `what`, e.g. "optimizer").
    let problems (what: string) (o: Sgd) =
        [ if not (o.LearningRate > 0.0 && o.LearningRate <= 10.0) then
              $"%s{what}.learning_rate = %g{o.LearningRate} is out of range: expected (0, 10]"
          if not (o.Momentum >= 0.0 && o.Momentum < 1.0) then
              $"%s{what}.momentum = %g{o.Momentum} is out of range: expected [0, 1)"
          if not (o.WeightDecay >= 0.0 && o.WeightDecay < 1.0) then
              $"%s{what}.weight_decay = %g{o.WeightDecay} is out of range: expected [0, 1)"
          if o.BatchSize < 1 || o.BatchSize > 65536 then
              $"%s{what}.batch_size = %d{o.BatchSize} is out of range: expected [1, 65536]" ]

    /// The learning rate per global step of a run of `epochs` epochs of `batchesPerEpoch` steps.
    let scheduleOf (o: Sgd) (epochs: int) (batchesPerEpoch: int) : ILearningRateSchedule =
        match o.Schedule with
        | Cosine -> CosineSchedule(o.LearningRate, max 1L (int64 epochs * int64 batchesPerEpoch))
        | CosinePerEpoch -> EpochCosineSchedule(o.LearningRate, max 1 epochs, max 1L (int64 batchesPerEpoch))
        | Constant -> ConstantSchedule(o.LearningRate)

/// The largest number of epochs a training step accepts.
[<Literal>]
let MaxEpochs = 100000

/// What a checkpoint of a training run says about itself.
type TrainingCheckpoint =
    { Artifact: string
      EpochsDone: int
      Epochs: int
      History: EpochRecord[] }

/// The history of a training run, and how many of its epochs an earlier (interrupted) run trained.
type TrainingResult =
    { History: EpochRecord[]
      ResumedAfter: int }

    /// Seconds of the epochs trained before a resume.
    member this.PriorSeconds =
        this.History |> Array.take this.ResumedAfter |> Array.sumBy _.Seconds

/// Trains `model` for `epochs` epochs with `sgd` on the objective `loss` (None: cross-entropy),
/// resuming from the checkpoint at `path` when one exists. `epochBatches e` gives the batches of
/// epoch e (0-based), deterministic in e; `seed` seeds each epoch's stochastic layers. `name`
/// labels progress and log lines. Returns the whole epoch history (epochs before a resume
/// included) and where it resumed.
let trainResumable
    (path: string)
    (sink: IProgressSink)
    (name: string)
    (seed: int)
    (sgd: Sgd)
    (epochs: int)
    (loss: TrainingLoss option)
    (model: torch.nn.Module<Tensor, Tensor>)
    (batchesPerEpoch: int)
    (epochBatches: int -> seq<Tensor * Tensor>)
    : TrainingResult =
    use optimizer =
        torch.optim.SGD(model.parameters (), sgd.LearningRate, momentum = sgd.Momentum, weight_decay = sgd.WeightDecay)

    let schedule = Sgd.scheduleOf sgd epochs batchesPerEpoch

    let mutable history =
        if File.Exists path then
            let meta =
                JsonSerializer.Deserialize<TrainingCheckpoint>(Checkpoint.Load(path, model, optimizer))

            if meta.Epochs <> epochs then
                raise (
                    InvalidDataException(
                        $"{path}: a training checkpoint for {meta.Epochs} epochs where {epochs} are asked; delete it to recompute that step"
                    )
                )

            if meta.EpochsDone > 0 && meta.EpochsDone < meta.Epochs then
                sink.Log $"{name}: resuming after epoch {meta.EpochsDone} of {meta.Epochs} from {path}"

            meta.History
        else
            [||]

    let startEpoch = history.Length

    if startEpoch < epochs then
        let task =
            sink.Start($"{name} (epochs {startEpoch + 1}-{epochs})", (epochs - startEpoch) * batchesPerEpoch)

        for epoch in startEpoch .. epochs - 1 do
            let firstStep = int64 epoch * int64 batchesPerEpoch

            let stats =
                Trainer.TrainEpoch(
                    model,
                    optimizer,
                    epochBatches epoch |> Seq.map (fun (x, y) -> struct (x, y)),
                    schedule,
                    firstStep,
                    int64 seed * 1000003L + int64 epoch,
                    (fun _ mean -> task.Advance(1, $"epoch {epoch + 1} loss %.3f{mean}")),
                    Option.toObj loss
                )

            history <-
                Array.append
                    history
                    [| { Epoch = epoch + 1
                         TrainLoss = stats.Loss
                         TrainAccuracy = stats.Accuracy
                         LearningRate = schedule.RateAt firstStep
                         Seconds = stats.Seconds } |]

            Checkpoint.Save(
                path,
                model,
                optimizer,
                { Artifact = name
                  EpochsDone = epoch + 1
                  Epochs = epochs
                  History = history }
            )

            sink.Log
                $"{name}: epoch {epoch + 1}/{epochs} loss %.4f{stats.Loss} train accuracy %.2f{stats.Accuracy}%% (%.0f{stats.Seconds} s)"

        task.Finish()

    { History = history
      ResumedAfter = startEpoch }
