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
    }

module Data =

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
        Codec.record (fun d p tr te h ->
            { Dataset = d
              Path = p
              TrainImages = tr
              TestImages = te
              HeldOut = h })
        |> Codec.field "dataset" _.Dataset datasetCodec
        |> Codec.fieldOr "path" _.Path (Codec.option Codec.string) None
        |> Codec.fieldOr "train_images" _.TrainImages (Codec.option Codec.int) None
        |> Codec.fieldOr "test_images" _.TestImages (Codec.option Codec.int) None
        |> Codec.fieldOr "held_out" _.HeldOut (Codec.option Codec.int) None
        |> Codec.build

    /// Problems with the limits alone (the dataset's own sizes are checked when its header is read).
    let problems (d: Data) =
        [ for what, v in
              [ "train_images", d.TrainImages
                "test_images", d.TestImages
                "held_out", d.HeldOut ] do
              match v with
              | Some n when n < 1 -> $"data.%s{what} = %d{n} is out of range: expected >= 1 (or null for the default)"
              | _ -> () ]
