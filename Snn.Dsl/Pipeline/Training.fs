/// Resumable supervised training: a checkpoint after every epoch; a rerun continues after the
/// last finished epoch and ends with the same numbers as an uninterrupted run (each epoch's data
/// order and noise masks depend only on the seed and the epoch number).
module Snn.Dsl.Pipeline.Training

open System.Text.Json
open TorchSharp
open Snn.Core.Training
open Snn.Core.Checkpoints

type Tensor = torch.Tensor

/// SGD with momentum, weight decay and a per-step cosine schedule, for a number of epochs.
type SgdRecipe =
    { Epochs: int
      LearningRate: float
      Momentum: float
      WeightDecay: float }

/// One finished epoch.
type EpochRecord =
    { Epoch: int
      TrainLoss: float
      TrainAccuracy: float
      Seconds: float }

/// What a checkpoint of a training stage says about itself.
type TrainingCheckpoint =
    { Stage: string
      EpochsDone: int
      Epochs: int
      History: EpochRecord[] }

/// Trains <paramref name="model"/> in stage <paramref name="stage"/> of the run folder, resuming
/// from its checkpoint when one exists. <paramref name="epochBatches"/> e gives the batches of
/// epoch e (0-based), deterministic in e. Returns the epoch history (complete).
let trainResumable
    (folder: RunFolder)
    (sink: IProgressSink)
    (stage: string)
    (seed: int)
    (recipe: SgdRecipe)
    (model: torch.nn.Module<Tensor, Tensor>)
    (batchesPerEpoch: int)
    (epochBatches: int -> seq<Tensor * Tensor>)
    : EpochRecord[] =
    let path = folder.Checkpoint stage

    use optimizer =
        torch.optim.SGD(
            model.parameters (),
            recipe.LearningRate,
            momentum = recipe.Momentum,
            weight_decay = recipe.WeightDecay
        )

    let schedule =
        CosineSchedule(recipe.LearningRate, int64 (max 1 (recipe.Epochs * batchesPerEpoch)))

    let mutable history =
        match Checkpoint.ReadMetadata path with
        | null -> [||]
        | _ ->
            let meta =
                JsonSerializer.Deserialize<TrainingCheckpoint>(Checkpoint.Load(path, model, optimizer))

            if meta.Epochs <> recipe.Epochs then
                invalidOp
                    $"{path}: checkpoint of stage '{stage}' was made for {meta.Epochs} epochs, the experiment asks for {recipe.Epochs}; use another output folder or delete the checkpoint"

            if meta.EpochsDone > 0 && meta.EpochsDone < meta.Epochs then
                sink.Log $"{stage}: resuming after epoch {meta.EpochsDone} of {meta.Epochs} from {path}"

            meta.History

    let startEpoch = history.Length

    if startEpoch < recipe.Epochs then
        let task =
            sink.Start(
                $"{stage} (epochs {startEpoch + 1}-{recipe.Epochs})",
                (recipe.Epochs - startEpoch) * batchesPerEpoch
            )

        for epoch in startEpoch .. recipe.Epochs - 1 do
            let stats =
                Trainer.TrainEpoch(
                    model,
                    optimizer,
                    epochBatches epoch |> Seq.map (fun (x, y) -> struct (x, y)),
                    schedule,
                    int64 (epoch * batchesPerEpoch),
                    int64 seed * 1000003L + int64 epoch,
                    (fun _ loss -> task.Advance(1, $"epoch {epoch + 1} loss {loss:F3}"))
                )

            history <-
                Array.append
                    history
                    [| { Epoch = epoch + 1
                         TrainLoss = stats.Loss
                         TrainAccuracy = stats.Accuracy
                         Seconds = stats.Seconds } |]

            Checkpoint.Save(
                path,
                model,
                optimizer,
                { Stage = stage
                  EpochsDone = epoch + 1
                  Epochs = recipe.Epochs
                  History = history }
            )

            sink.Log
                $"{stage}: epoch {epoch + 1}/{recipe.Epochs} loss {stats.Loss:F4} train accuracy {stats.Accuracy:F2}%% ({stats.Seconds:F0} s)"

        task.Finish()

    history
