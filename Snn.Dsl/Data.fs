/// Where an experiment's data comes from and how much of it a run uses. Each dataset is one
/// Snn.Core descriptor (DatasetDescriptor: name, files, normalisation, augmentation, reader); its
/// name is the same in JSON, on the command line and in the DSL.
namespace Snn.Dsl

open Snn.Core.Data
open Snn.Dsl.Json

/// Where the data comes from and how much of it a run uses.
type Data =
    {
        /// The dataset (DatasetDescriptor.FashionMnist, .Mnist, .Cifar10, .Cifar100, .ImageNet).
        Dataset: DatasetDescriptor
        /// None: the default location (e.g. /usr/share/datasets/fashion-mnist).
        Path: string option
        /// Use only the first n training images (None: the whole training split).
        TrainImages: int option
        /// Evaluate spiking networks on only the first n test images (None: the whole test
        /// split). ANNs are always evaluated on the whole test split.
        TestImages: int option
        /// Training images held out at the end of the training files for calibration and early
        /// stopping (None: min(5,000, 1/12 of the training files); the run log says what was chosen).
        HeldOut: int option
        /// Images per evaluation batch: ANN accuracies and SNN evaluation (None: 256). A shard
        /// evaluates whole batches. An SNN simulation holds, per neuron layer, v, the spike counts
        /// and input sums of the whole batch (ResNet-34 at 224x224: about 57 MB per image), so large
        /// models need smaller batches.
        EvalBatchSize: int option
    }

module Data =

    /// Images per evaluation batch when `eval_batch_size` is not set.
    [<Literal>]
    let DefaultEvalBatchSize = 256

    /// The evaluation batch size of a run.
    let evalBatchSize (d: Data) =
        d.EvalBatchSize |> Option.defaultValue DefaultEvalBatchSize

    /// The dataset with this name, or an error listing the known names.
    let tryParse (name: string) =
        try
            Ok(DatasetDescriptor.Find(name, "dataset"))
        with :? System.ArgumentException as e ->
            Error e.Message

    /// A dataset by its name; an image folder's side in pixels as "imagenet@224".
    let datasetCodec: Codec<DatasetDescriptor> =
        Codec.mapResult
            (fun (key: string) ->
                match key.Split '@' with
                | [| name; size |] when fst (System.Int32.TryParse size) ->
                    tryParse name |> Result.map (fun d -> d.WithImageSize(int size))
                | _ -> tryParse key)
            (fun d -> d.Key)
            Codec.string

    let codec: Codec<Data> =
        Codec.record (fun d p tr te h e ->
            { Dataset = d
              Path = p
              TrainImages = tr
              TestImages = te
              HeldOut = h
              EvalBatchSize = e })
        |> Codec.field "dataset" _.Dataset datasetCodec
        |> Codec.fieldOr "path" _.Path (Codec.option Codec.string) None
        |> Codec.fieldOr "train_images" _.TrainImages (Codec.option Codec.int) None
        |> Codec.fieldOr "test_images" _.TestImages (Codec.option Codec.int) None
        |> Codec.fieldOr "held_out" _.HeldOut (Codec.option Codec.int) None
        |> Codec.fieldOr "eval_batch_size" _.EvalBatchSize (Codec.option Codec.int) None
        |> Codec.build

    /// Problems with the limits alone (the dataset's own sizes are checked when its header is read).
    let problems (d: Data) =
        [ for what, v in
              [ "train_images", d.TrainImages
                "test_images", d.TestImages
                "held_out", d.HeldOut ] do
              match v with
              | Some n when n < 1 -> $"data.%s{what} = %d{n} is out of range: expected >= 1 (or null for the default)"
              | _ -> ()
          match d.EvalBatchSize with
          | Some n when n < 1 || n > 65536 ->
              $"data.eval_batch_size = %d{n} is out of range: expected [1, 65536] (or null for %d{DefaultEvalBatchSize})"
          | _ -> () ]
