/// The data of one run, read once and shared by every step: the splits, the evaluation batches
/// and the calibration images (all from the training files' held-out part, never test data).
namespace Snn.Dsl.Pipeline

open System
open System.Collections.Generic
open System.IO
open TorchSharp
open Snn.Core.Data
open Snn.Dsl

type private Tensor = torch.Tensor

/// What validation needs to know of the dataset (read from its headers before any image).
type DataFacts =
    { Dataset: DatasetDescriptor
      Folder: string
      Classes: int
      Input: Shape
      TrainingFiles: int
      Train: int
      HeldOut: int
      HeldOutIsDefault: bool
      Test: int
      SnnTest: int }

/// The evaluation batches of one split (ANN accuracies, SNN evaluation), read again on each pass:
/// from a dataset held in memory, batches made once and kept on the run's device; from a streamed
/// dataset, decoded one batch at a time on each pass (memory within the data budget, whatever the
/// split's size). A batch is valid until the next is taken: consumers do not keep or dispose it.
type EvalBatches(count: int, pass: unit -> seq<Tensor * Tensor>) =
    /// Batches per pass.
    member _.Count = count

    interface seq<Tensor * Tensor> with
        member _.GetEnumerator() = pass().GetEnumerator()

    interface Collections.IEnumerable with
        member _.GetEnumerator() =
            (pass () :> Collections.IEnumerable).GetEnumerator()

/// The data of a run: its facts and identity from the dataset's headers and files; the images
/// themselves are read on first use. Batches are kept on `device`; Dispose frees them. With a
/// shard, the test batches (ANN and SNN) are the shard's slice of them (Shard.fs). `budget` is the
/// data memory budget (None: SNN_DATA_MEMORY or half the memory, DataMemoryBudget.FromEnvironment);
/// a dataset above it is streamed from disk.
type RunData
    (data: Data, pathOverride: string option, device: torch.Device, shard: Shard option, budget: DataMemoryBudget option)
    =
    let evalBatch = Data.evalBatchSize data
    let dataset = data.Dataset

    let folder =
        DatasetLocator.Locate(pathOverride |> Option.orElse data.Path |> Option.toObj, dataset)

    let layout = dataset.Inspect folder

    let heldOut =
        data.HeldOut
        |> Option.defaultValue (DataSplits.DefaultHeldOut layout.TrainImages)

    do
        if heldOut >= layout.TrainImages then
            raise (
                System.ArgumentException(
                    $"data.held_out = %d{heldOut} is out of range: {folder} has %d{layout.TrainImages} training images",
                    "held_out"
                )
            )

    let facts =
        let limit (n: int option) available =
            n |> Option.map (min available) |> Option.defaultValue available

        { Dataset = dataset
          Folder = folder
          Classes = layout.Classes
          Input = Image(layout.Channels, layout.Height, layout.Width)
          TrainingFiles = layout.TrainImages
          Train = limit data.TrainImages (layout.TrainImages - heldOut)
          HeldOut = heldOut
          HeldOutIsDefault = data.HeldOut.IsNone
          Test = layout.TestImages
          SnnTest = limit data.TestImages layout.TestImages }

    let mutable log: string -> unit = ignore

    let splits =
        lazy
            (let s =
                DataSplits.Load(dataset, folder, System.Nullable heldOut, Option.toObj budget)

             if s.IsStreamed then
                 let b = budget |> Option.defaultWith DataMemoryBudget.FromEnvironment

                 log
                     $"data: images streamed from disk, a batch at a time: the dataset does not fit the data memory budget of {b}"

             s)

    let subset (d: ImageDataset) (n: int) = d.Subset(0, n)
    let train = lazy (subset splits.Value.Train facts.Train)

    let sliceOf (d: ImageDataset) (count: int) =
        let start, n = Shard.slice shard count evalBatch
        d.Subset(start, n)

    let snnTest = lazy (sliceOf splits.Value.Test facts.SnnTest)
    let test = lazy (sliceOf splits.Value.Test facts.Test)
    let normalization = dataset.Normalization
    let owned = List<Tensor>()

    let onDevice (x: Tensor) =
        if
            x.device_type = device.``type``
            && (device.``type`` = DeviceType.CPU || x.device_index = device.index)
        then
            x
        else
            let moved = x.``to`` device
            x.Dispose()
            moved

    let ownedSubsets = List<ImageDataset>()

    let batchesOf (d: ImageDataset) =
        // A set smaller than a batch is one batch of its size (a streamed loader budgets for the batch size).
        let loader () =
            BatchLoader(d, max 1 (min evalBatch d.Count), false, normalization)

        if d.IsStreamed then
            EvalBatches(
                loader().BatchCount,
                fun () ->
                    seq {
                        for pair in loader().Epoch 0 do
                            let struct (cpuImages, cpuLabels) = pair
                            let x, y = onDevice cpuImages, onDevice cpuLabels

                            try
                                yield x, y
                            finally
                                x.Dispose()
                                y.Dispose()
                    }
            )
        else
            let held =
                loader().Epoch 0
                |> Seq.map (fun struct (x, y) ->
                    let x, y = onDevice x, onDevice y
                    owned.Add x
                    owned.Add y
                    x, y)
                |> Seq.toList

            EvalBatches(held.Length, fun () -> held)

    let testBatches = lazy (batchesOf test.Value)
    let snnTestBatches = lazy (batchesOf snnTest.Value)
    let heldOutBatches = lazy (batchesOf splits.Value.HeldOut)
    let heldOutImages = Dictionary<int * int * int, Tensor[]>()
    let identity = lazy (dataset.Identify(folder).Digest)

    new(data: Data, pathOverride: string option, device: torch.Device, shard: Shard option) =
        new RunData(data, pathOverride, device, shard, None)

    new(data: Data, pathOverride: string option) = new RunData(data, pathOverride, torch.CPU, None, None)

    /// The SNN and ANN evaluation batch size (data.eval_batch_size, default 256).
    member _.EvalBatch = evalBatch

    /// Where the batches are (the experiment's device).
    member _.Device = device

    /// `x` on the run's device: `x` itself when it is there, else a copy there (`x` is disposed).
    member _.OnDevice(x: Tensor) = onDevice x
    /// The shard of the test split this run evaluates (None: all of it).
    member _.Shard = shard

    member _.Settings = data
    member _.Dataset = dataset
    member _.Splits = splits.Value

    /// Where the run's data notes go (whether the images are streamed, said when they are first read).
    member _.Log
        with set (sink: string -> unit) = log <- sink

    /// The training images a run trains on (the first Data.TrainImages of the train split).
    member _.Train = train.Value
    /// The test images SNNs are scored on (the first Data.TestImages; the shard's slice of them).
    member _.SnnTest = snnTest.Value
    member _.Normalization = normalization
    member _.Augmentation = dataset.TrainingAugmentation

    /// A digest of the dataset's files (DatasetIdentity): runs on other data get other identities.
    member _.Identity = identity.Value

    /// The dataset's facts, from its headers (no image read).
    member _.Facts = facts

    /// The whole test split (the shard's slice) in evaluation batches (ANN accuracies); see EvalBatches.
    member _.TestBatches = testBatches.Value
    /// The SNN test images in evaluation batches; see EvalBatches.
    member _.SnnTestBatches = snnTestBatches.Value

    /// Batches of 256 that begin with the first `count` images of the whole test split, whatever
    /// the shard: for checks every shard makes on the same images (importAnn's ONNX Runtime check).
    member _.TestHeadBatches(count: int) =
        match shard with
        | None -> testBatches.Value
        | Some _ ->
            // Kept to the end of the run: a streamed subset is read on every pass.
            let d = splits.Value.Test.Subset(0, min count facts.Test)
            ownedSubsets.Add d
            batchesOf d

    /// The whole held-out split in evaluation batches (held-out accuracies); see EvalBatches.
    member _.HeldOutBatches = heldOutBatches.Value

    /// Shuffled, augmented training batches of `batchSize`, in an order that depends only on
    /// (loaderSeed, epoch).
    member this.TrainLoader(batchSize: int, loaderSeed: int) =
        BatchLoader(train.Value, batchSize, true, normalization, this.Augmentation, loaderSeed)

    /// Held-out images [start, start + count) (normalised, no augmentation) in batches; cached.
    member _.HeldOutImages(start: int, count: int, batchSize: int) : Tensor[] =
        let key = start, count, batchSize

        match heldOutImages.TryGetValue key with
        | true, xs -> xs
        | _ ->
            use d = splits.Value.HeldOut.Subset(start, count)

            // The same batches; a streamed loader budgets for its batch size, at most the set's.
            let xs =
                BatchLoader(d, max 1 (min batchSize d.Count), false, normalization).Epoch 0
                |> Seq.map (fun struct (x, y) ->
                    y.Dispose()
                    onDevice x)
                |> Seq.toArray

            heldOutImages[key] <- xs
            xs

    /// The first `count` training images (normalised, no augmentation) in one tensor; the
    /// caller owns it.
    member _.TrainingImages(count: int) : Tensor =
        use d = train.Value.Subset(0, min count train.Value.Count)

        let struct (x, y) =
            BatchLoader(d, d.Count, false, normalization).Epoch 0 |> Seq.head

        y.Dispose()
        onDevice x

    interface IDisposable with
        member _.Dispose() =
            for x in owned do
                x.Dispose()

            for d in ownedSubsets do
                d.Dispose()

            for xs in heldOutImages.Values do
                for x in xs do
                    x.Dispose()

            if train.IsValueCreated then
                train.Value.Dispose()

            if snnTest.IsValueCreated then
                snnTest.Value.Dispose()

            if test.IsValueCreated then
                test.Value.Dispose()

            if splits.IsValueCreated then
                splits.Value.Dispose()
