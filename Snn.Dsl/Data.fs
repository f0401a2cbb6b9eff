/// Where an experiment's data comes from and how much of it a run uses.
namespace Snn.Dsl

open Snn.Core.Data
open Snn.Dsl.Json

/// The datasets an experiment can name (the names are those of JSON, the CLI and the DSL).
type Dataset =
    | FashionMnist
    | Mnist
    | Cifar10
    | Cifar100
    /// An image folder in ImageNet's layout (train/ and val/ with one folder per class).
    | ImageNet1k

/// Where the data comes from and how much of it a run uses.
type Data =
    {
        Dataset: Dataset
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

    /// The one name of each dataset, and its kind in Snn.Core.
    let private table =
        [ "fashion-mnist", FashionMnist, DatasetKind.FashionMnist
          "mnist", Mnist, DatasetKind.Mnist
          "cifar10", Cifar10, DatasetKind.Cifar10
          "cifar100", Cifar100, DatasetKind.Cifar100
          "imagenet", ImageNet1k, DatasetKind.ImageFolder ]

    /// The dataset's name in JSON, on the command line and in reports.
    let name (d: Dataset) =
        table |> List.find (fun (_, x, _) -> x = d) |> (fun (n, _, _) -> n)

    /// Snn.Core's reader and normalisation key of the dataset.
    let kind (d: Dataset) =
        table |> List.find (fun (_, x, _) -> x = d) |> (fun (_, _, k) -> k)

    /// The dataset with this name, or an error listing the known names.
    let tryParse (s: string) =
        match table |> List.tryFind (fun (n, _, _) -> n = s.ToLowerInvariant()) with
        | Some(_, d, _) -> Ok d
        | None ->
            let known = table |> List.map (fun (n, _, _) -> n) |> String.concat ", "
            Error $"\"%s{s}\" is not a known dataset: expected one of %s{known}"

    let datasetCodec: Codec<Dataset> =
        Codec.enum (table |> List.map (fun (n, d, _) -> n, d))

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

    /// The default held-out split: min(5,000, n / 12) of n training images (60,000 -> 5,000).
    let defaultHeldOut (trainingImages: int) = min 5000 (trainingImages / 12)

    /// Problems with the limits alone (the dataset's own sizes are checked when it is read).
    let problems (d: Data) =
        [ for what, v in
              [ "train_images", d.TrainImages
                "test_images", d.TestImages
                "held_out", d.HeldOut ] do
              match v with
              | Some n when n < 1 -> $"data.%s{what} = %d{n} is out of range: expected >= 1 (or null for the default)"
              | _ -> () ]
