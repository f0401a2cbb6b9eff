module Snn.Cli.Program

open System
open System.Diagnostics
open Argu
open Spectre.Console
open Snn.Core.Data
open Snn.Dsl.Reporting

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
            | Dataset _ ->
                "dataset name: "
                + (DatasetDescriptor.All |> Seq.map _.Name |> String.concat ", ")
                + " (default fashion-mnist)."
            | Held_Out _ -> "training images held out at the end of the training files (default min(5000, N/12))."
            | Image_Size _ -> "side in pixels of image-folder (imagenet) images (default 224)."
            | Time_Epoch -> "also time one shuffled, augmented training epoch of batch 128 (data loading only)."

/// The `snn` command line: one case per subcommand.
[<RequireSubcommand>]
type SnnArgs =
    | [<Inherit>] Verbose
    | [<CliPrefix(CliPrefix.None)>] Run of ParseResults<RunCommand.RunArgs>
    | [<CliPrefix(CliPrefix.None)>] Merge of ParseResults<MergeCommand.MergeArgs>
    | [<CliPrefix(CliPrefix.None)>] Compare of ParseResults<CompareCommand.CompareArgs>
    | [<CliPrefix(CliPrefix.None)>] Data of ParseResults<DataArgs>
    | [<CliPrefix(CliPrefix.None)>] Bench of ParseResults<Bench.Args.BenchArgs>
    | [<CliPrefix(CliPrefix.None)>] Import of ParseResults<ImportCommand.ImportArgs>

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Verbose -> "on a failure, also print the stack trace (as SNN_DEBUG=1 does)."
            | Run _ -> "train, convert, calibrate and evaluate an experiment; writes report.md, results.json and plots."
            | Merge _ -> "combine the shards of a run (snn run --shard i/n) into one results.json and report."
            | Compare _ -> "compare two runs (or runs over seeds) image by image: accuracies and exact McNemar tests."
            | Data _ -> "summarise a dataset: images per split and class, pixel mean and std."
            | Bench _ -> "measure simulation, training and Phase II speed side by side; write bench.json."
            | Import _ -> "import a trained ANN from ONNX, check it against ONNX Runtime, score it; write import.json."

/// The dataset of `--dataset` (default fashion-mnist) at `--image-size` when given.
let private parseDataset (args: ParseResults<DataArgs>) =
    let dataset =
        args.TryGetResult Dataset
        |> Option.map (fun name -> DatasetDescriptor.Find(name, "--dataset"))
        |> Option.defaultValue DatasetDescriptor.FashionMnist

    match args.TryGetResult Image_Size with
    | Some size ->
        try
            dataset.WithImageSize size
        with :? ArgumentException as e ->
            let message = ErrorBoundary.argumentMessage e
            raise (ArgumentException(message.Replace("imageSize", "--image-size"), "image-size", e))
    | None -> dataset

let private fmt (xs: float[]) =
    xs |> Array.map (fun x -> x.ToString("0.0000")) |> String.concat " / "

/// The options of `snn data` by the name of the DataSplits.Load parameter they set.
let private optionOf = dict [ "heldOut", "--held-out"; "imageSize", "--image-size" ]

/// `snn data`: load, split and summarise a dataset.
let runData (args: ParseResults<DataArgs>) =
    let dataset = parseDataset args
    let heldOut = args.TryGetResult Held_Out |> Option.toNullable
    let watch = Stopwatch.StartNew()

    use splits =
        try
            DataSplits.Load(dataset, args.TryGetResult DataArgs.Data |> Option.toObj, heldOut)
        with :? ArgumentException as e when not (isNull e.ParamName) && optionOf.ContainsKey e.ParamName ->
            // Snn.Core names its parameter (heldOut = 5000 ...); the user typed the option.
            let option = optionOf[e.ParamName]
            let message = ErrorBoundary.argumentMessage e

            let message =
                if message.StartsWith $"{e.ParamName} = " then
                    option + message.Substring e.ParamName.Length
                else
                    $"{option}: {message}"

            raise (ArgumentException(message, option, e))

    let loadSeconds = watch.Elapsed.TotalSeconds
    let s = DatasetSummary.Compute splits
    let esc (x: string) = Markup.Escape x
    AnsiConsole.MarkupLine($"[bold]{esc dataset.Name}[/] from {esc s.Folder} (read in {loadSeconds:F2} s)")

    let heldOutSource =
        if splits.HeldOutIsDefault then
            "default min(5000, N/12)"
        else
            "--held-out"

    AnsiConsole.MarkupLine(
        $"held-out: the last {Format.thousands splits.HeldOut.Count} of {Format.thousands splits.FullTrain.Count} training images ({heldOutSource})"
    )

    if splits.IsStreamed then
        AnsiConsole.MarkupLine(
            $"images streamed from disk (decoded a batch at a time): the dataset does not fit the data memory budget of {esc (string (DataMemoryBudget.FromEnvironment()))}"
        )

    let shape = s.Train.Shape |> Array.map string |> String.concat "x"

    let splitsTable =
        Table().AddColumns("split", "images", "image shape", "pixel mean (per channel)", "pixel std (per channel)")

    for name, split in
        [ "training files", s.FullTrain
          "train", s.Train
          "held-out", s.HeldOut
          "test", s.Test ] do
        splitsTable.AddRow(esc name, Format.thousands split.Count, shape, fmt split.PixelMean, fmt split.PixelStd)
        |> ignore

    AnsiConsole.Write splitsTable

    let classTable =
        Table().AddColumns("label", "class", "training files", "train", "held-out", "test")

    for k in 0 .. s.ClassNames.Count - 1 do
        classTable.AddRow(
            string k,
            esc s.ClassNames.[k],
            Format.thousands s.FullTrain.ClassCounts.[k],
            Format.thousands s.Train.ClassCounts.[k],
            Format.thousands s.HeldOut.ClassCounts.[k],
            Format.thousands s.Test.ClassCounts.[k]
        )
        |> ignore

    AnsiConsole.Write classTable

    if args.Contains Time_Epoch then
        let loader =
            BatchLoader(splits.Train, 128, true, dataset.Normalization, dataset.TrainingAugmentation, 0)

        let watch = Stopwatch.StartNew()

        for images, labels in loader.Epoch 0 do
            images.Dispose()
            labels.Dispose()
            Interrupt.check ()

        let aug = dataset.TrainingAugmentation

        AnsiConsole.MarkupLine(
            $"one training epoch: {Format.thousands splits.Train.Count} images in {loader.BatchCount} batches of 128, "
            + $"crop padding {aug.Padding}, flip {aug.HorizontalFlip}: {watch.Elapsed.TotalSeconds:F2} s of data loading"
        )

    0

/// Seconds a command may run on after the first Ctrl-C before it is stopped without clean-up.
[<Literal>]
let private InterruptGraceSeconds = 10.0

/// `snn`: every command runs inside the error boundary (ErrorBoundary.fs), which turns any
/// failure into one `snn:` message and an exit code of ExitCode.fs.
[<EntryPoint>]
let main argv =
    // Figures print as report.md writes them ("92.18"), whatever the machine's locale.
    Globalization.CultureInfo.DefaultThreadCurrentCulture <- Globalization.CultureInfo.InvariantCulture
    Globalization.CultureInfo.CurrentCulture <- Globalization.CultureInfo.InvariantCulture
    ConsoleWidth.apply ()
    // Read before parsing, so that a parse error or a failure during start-up honours it too.
    let verbose = ErrorBoundary.verboseRequested argv
    Interrupt.install InterruptGraceSeconds

    ErrorBoundary.run verbose (fun () ->
        let parser = ArgumentParser.Create<SnnArgs>(programName = "snn")
        let results = parser.ParseCommandLine(argv, raiseOnUsage = true)
        Snn.Core.Native.TorchRuntime.EnsureNativeCompatibility()

        match results.GetSubCommand() with
        | Run args -> RunCommand.run args
        | Merge args -> MergeCommand.run args
        | Compare args -> CompareCommand.run args
        | Data args -> runData args
        | Bench args -> Bench.Command.run args
        | Import args -> ImportCommand.run args
        // --verbose is a flag, never the subcommand (RequireSubcommand rejects a line without one).
        | Verbose -> ExitCode.Usage)
