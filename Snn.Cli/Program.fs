module Snn.Cli.Program

open System
open System.Diagnostics
open Argu
open Spectre.Console
open Snn.Core.Data

/// Options of `snn data`.
type DataArgs =
    | [<AltCommandLine("-d")>] Data of path: string
    | Dataset of name: string
    | Held_Out of count: int
    | Image_Size of pixels: int
    | Time_Epoch

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Data _ -> "dataset folder (else SNN_DATA, else /usr/share/datasets/fashion-mnist)."
            | Dataset _ -> "fashion-mnist (default), mnist, cifar10, cifar100 or imagefolder."
            | Held_Out _ -> "training images held out at the end of the training files (default 5000)."
            | Image_Size _ -> "side in pixels of image-folder images (default 224)."
            | Time_Epoch -> "also time one shuffled, augmented training epoch of batch 128 (data loading only)."

/// The `snn` command line: one case per subcommand.
[<RequireSubcommand>]
type SnnArgs =
    | [<CliPrefix(CliPrefix.None)>] Run of ParseResults<RunCommand.RunArgs>
    | [<CliPrefix(CliPrefix.None)>] Data of ParseResults<DataArgs>
    | [<CliPrefix(CliPrefix.None)>] Bench of ParseResults<Bench.BenchArgs>
    | [<CliPrefix(CliPrefix.None)>] Import of ParseResults<ImportCommand.ImportArgs>

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Run _ -> "train, convert, calibrate and evaluate an experiment; writes report.md, results.json and plots."
            | Data _ -> "summarise a dataset: images per split and class, pixel mean and std."
            | Bench _ -> "measure simulation, training and Phase II speed side by side; write bench.json."
            | Import _ -> "import a trained ANN from ONNX, check it against ONNX Runtime, score it; write import.json."

let private datasetNames =
    [ "fashion-mnist", DatasetKind.FashionMnist
      "mnist", DatasetKind.Mnist
      "cifar10", DatasetKind.Cifar10
      "cifar100", DatasetKind.Cifar100
      "imagefolder", DatasetKind.ImageFolder ]

let private parseDataset (name: string) =
    match datasetNames |> List.tryFind (fun (n, _) -> n = name.ToLowerInvariant()) with
    | Some(_, kind) -> kind
    | None ->
        let valid = datasetNames |> List.map fst |> String.concat ", "
        raise (ArgumentException($"--dataset = {name} is not a known dataset: expected one of {valid}", "dataset"))

let private fmt (xs: float[]) =
    xs |> Array.map (fun x -> x.ToString("0.0000")) |> String.concat " / "

let private count (n: int64) =
    n.ToString("N0", Globalization.CultureInfo.InvariantCulture)

/// `snn data`: load, split and summarise a dataset.
let runData (args: ParseResults<DataArgs>) =
    let kind =
        args.TryGetResult Dataset
        |> Option.map parseDataset
        |> Option.defaultValue DatasetKind.FashionMnist

    let heldOut = args.GetResult(Held_Out, 5000)
    let watch = Stopwatch.StartNew()

    use splits =
        DataSplits.Load(kind, args.TryGetResult DataArgs.Data |> Option.toObj, heldOut, args.GetResult(Image_Size, 224))

    let loadSeconds = watch.Elapsed.TotalSeconds
    let s = DatasetSummary.Compute splits
    let esc (x: string) = Markup.Escape x
    AnsiConsole.MarkupLine($"[bold]{esc (string kind)}[/] from {esc s.Folder} (read in {loadSeconds:F2} s)")

    let shape = s.Train.Shape |> Array.map string |> String.concat "x"

    let splitsTable =
        Table().AddColumns("split", "images", "image shape", "pixel mean (per channel)", "pixel std (per channel)")

    for name, split in
        [ "training files", s.FullTrain
          "train", s.Train
          "held-out", s.HeldOut
          "test", s.Test ] do
        splitsTable.AddRow(esc name, count (int64 split.Count), shape, fmt split.PixelMean, fmt split.PixelStd)
        |> ignore

    AnsiConsole.Write splitsTable

    let classTable =
        Table().AddColumns("label", "class", "training files", "train", "held-out", "test")

    for k in 0 .. s.ClassNames.Count - 1 do
        classTable.AddRow(
            string k,
            esc s.ClassNames.[k],
            count s.FullTrain.ClassCounts.[k],
            count s.Train.ClassCounts.[k],
            count s.HeldOut.ClassCounts.[k],
            count s.Test.ClassCounts.[k]
        )
        |> ignore

    AnsiConsole.Write classTable

    if args.Contains Time_Epoch then
        let loader =
            BatchLoader(splits.Train, 128, true, Normalization.For kind, Augmentation.For kind, 0)

        let watch = Stopwatch.StartNew()

        for images, labels in loader.Epoch 0 do
            images.Dispose()
            labels.Dispose()

        let aug = Augmentation.For kind

        AnsiConsole.MarkupLine(
            $"one training epoch: {count (int64 splits.Train.Count)} images in {loader.BatchCount} batches of 128, "
            + $"crop padding {aug.Padding}, flip {aug.HorizontalFlip}: {watch.Elapsed.TotalSeconds:F2} s of data loading"
        )

    0

[<EntryPoint>]
let main argv =
    let parser = ArgumentParser.Create<SnnArgs>(programName = "snn")

    try
        let results = parser.ParseCommandLine(argv, raiseOnUsage = true)
        Snn.Core.Native.TorchRuntime.EnsureNativeCompatibility()

        match results.GetSubCommand() with
        | Run args -> RunCommand.run args
        | Data args -> runData args
        | Bench args -> Bench.runBench args
        | Import args -> ImportCommand.run args
    with
    | :? ArguParseException as e ->
        eprintfn "%s" e.Message
        if e.ErrorCode = ErrorCode.HelpText then 0 else 1
    | :? DataFileException as e ->
        eprintfn "snn: %s" e.Message
        2
    | :? ArgumentException as e ->
        eprintfn "snn: %s" e.Message

        if Environment.GetEnvironmentVariable "SNN_DEBUG" = "1" then
            eprintfn "%O" e

        1
    | :? InvalidOperationException as e ->
        eprintfn "snn: %s" e.Message

        if Environment.GetEnvironmentVariable "SNN_DEBUG" = "1" then
            eprintfn "%O" e

        1
