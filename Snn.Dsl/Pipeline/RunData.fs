/// The data of one run, read once and shared by every step: the splits, the evaluation batches
/// and the calibration images (all from the training files' held-out part, never test data).
namespace Snn.Dsl.Pipeline

open System
open System.Collections.Generic
open System.IO
open System.Security.Cryptography
open TorchSharp
open Snn.Core.Data
open Snn.Dsl

type private Tensor = torch.Tensor

/// What validation needs to know of the dataset (read from its files before any training).
type DataFacts =
    { Dataset: Dataset
      Folder: string
      Classes: int
      Input: Shape
      TrainingFiles: int
      Train: int
      HeldOut: int
      HeldOutIsDefault: bool
      Test: int
      SnnTest: int }

/// The data of a run. Batches are made on first use and kept; Dispose frees them.
type RunData(data: Data, pathOverride: string option) =
    static let evalBatch = 256
    let kind = Data.kind data.Dataset
    let path = pathOverride |> Option.orElse data.Path |> Option.toObj

    let splits =
        let all = DataSplits.Load(kind, path, 0)

        let heldOut =
            data.HeldOut |> Option.defaultValue (Data.defaultHeldOut all.FullTrain.Count)

        if heldOut >= all.FullTrain.Count then
            all.Dispose()

            raise (
                ArgumentException(
                    $"data.held_out = %d{heldOut} is out of range: the dataset has %d{all.FullTrain.Count} training images",
                    "held_out"
                )
            )

        all.Train.Dispose()
        all.HeldOut.Dispose()
        DataSplits.FromDatasets(kind, all.Folder, all.FullTrain, all.Test, heldOut)

    let subset (d: ImageDataset) (limit: int option) =
        match limit with
        | Some n when n < d.Count -> d.Subset(0, n)
        | _ -> d.Subset(0, d.Count)

    let train = subset splits.Train data.TrainImages
    let snnTest = subset splits.Test data.TestImages
    let normalization = Normalization.For kind
    let owned = List<Tensor>()

    let batchesOf (d: ImageDataset) =
        BatchLoader(d, evalBatch, false, normalization).Epoch 0
        |> Seq.map (fun struct (x, y) ->
            owned.Add x
            owned.Add y
            x, y)
        |> Seq.toList

    let testBatches = lazy (batchesOf splits.Test)
    let snnTestBatches = lazy (batchesOf snnTest)
    let heldOutBatches = lazy (batchesOf splits.HeldOut)
    let heldOutImages = Dictionary<int * int * int, Tensor[]>()

    /// SHA-256 over the dataset's files: names, sizes and contents for IDX and CIFAR files; for an
    /// image folder, relative paths, sizes and write times (hashing every image would be too slow).
    let identity =
        lazy
            (let folder = splits.Folder

             let files =
                 if kind = DatasetKind.ImageFolder then
                     Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
                 else
                     Directory.EnumerateFiles folder

             use sha = SHA256.Create()

             let add (s: string) =
                 let b = Text.Encoding.UTF8.GetBytes(s + "\n")
                 sha.TransformBlock(b, 0, b.Length, null, 0) |> ignore

             add (Data.name data.Dataset)

             for f in files |> Seq.sort do
                 let info = FileInfo f
                 add $"{Path.GetRelativePath(folder, f)} {info.Length}"

                 if kind = DatasetKind.ImageFolder then
                     add (info.LastWriteTimeUtc.Ticks.ToString())
                 else
                     add (Convert.ToHexString(SHA256.HashData(File.ReadAllBytes f)))

             sha.TransformFinalBlock([||], 0, 0) |> ignore
             Convert.ToHexString(sha.Hash).ToLowerInvariant())

    /// The SNN and ANN evaluation batch size.
    static member EvalBatch = evalBatch

    member _.Settings = data
    member _.Kind = kind
    member _.Splits = splits
    /// The training images a run trains on (the first Data.TrainImages of the train split).
    member _.Train = train
    /// The test images SNNs are scored on (the first Data.TestImages).
    member _.SnnTest = snnTest
    member _.Normalization = normalization
    member _.Augmentation = Augmentation.For kind

    /// A digest of the dataset's files (see the type's comment); runs on other data get other identities.
    member _.Identity = identity.Value

    member _.Facts =
        { Dataset = data.Dataset
          Folder = splits.Folder
          Classes = splits.FullTrain.Classes
          Input = Image(splits.FullTrain.Channels, splits.FullTrain.Height, splits.FullTrain.Width)
          TrainingFiles = splits.FullTrain.Count
          Train = train.Count
          HeldOut = splits.HeldOut.Count
          HeldOutIsDefault = data.HeldOut.IsNone
          Test = splits.Test.Count
          SnnTest = snnTest.Count }

    /// The whole test split in batches of 256 (ANN accuracies).
    member _.TestBatches = testBatches.Value
    /// The SNN test images in batches of 256.
    member _.SnnTestBatches = snnTestBatches.Value
    /// The whole held-out split in batches of 256 (held-out accuracies).
    member _.HeldOutBatches = heldOutBatches.Value

    /// Shuffled, augmented training batches of `batchSize`, in an order that depends only on
    /// (loaderSeed, epoch).
    member this.TrainLoader(batchSize: int, loaderSeed: int) =
        BatchLoader(train, batchSize, true, normalization, this.Augmentation, loaderSeed)

    /// Held-out images [start, start + count) (normalised, no augmentation) in batches; cached.
    member _.HeldOutImages(start: int, count: int, batchSize: int) : Tensor[] =
        let key = start, count, batchSize

        match heldOutImages.TryGetValue key with
        | true, xs -> xs
        | _ ->
            use d = splits.HeldOut.Subset(start, count)

            let xs =
                BatchLoader(d, batchSize, false, normalization).Epoch 0
                |> Seq.map (fun struct (x, y) ->
                    y.Dispose()
                    x)
                |> Seq.toArray

            heldOutImages[key] <- xs
            xs

    /// The first `count` training images (normalised, no augmentation) in one tensor; the
    /// caller owns it.
    member _.TrainingImages(count: int) : Tensor =
        use d = train.Subset(0, min count train.Count)

        let struct (x, y) =
            BatchLoader(d, d.Count, false, normalization).Epoch 0 |> Seq.head

        y.Dispose()
        x

    interface IDisposable with
        member _.Dispose() =
            for x in owned do
                x.Dispose()

            for xs in heldOutImages.Values do
                for x in xs do
                    x.Dispose()

            train.Dispose()
            snnTest.Dispose()
            splits.Dispose()
