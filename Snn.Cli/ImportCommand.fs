/// `snn import MODEL.onnx`: imports a trained ANN from ONNX (docs/IMPORT.md), prints it in DSL
/// syntax, checks it against ONNX Runtime on the first test images, scores it on the whole test
/// split, and writes import.json, network.json and weights.safetensors.
module Snn.Cli.ImportCommand

open System
open System.Diagnostics
open System.IO
open System.Text.Json
open System.Text.Json.Nodes
open Argu
open TorchSharp
open Snn.Core.Data
open Snn.Dsl
open Snn.Dsl.Import
open Snn.Dsl.Reporting

/// Options of `snn import`.
type ImportArgs =
    | [<MainCommand; ExactlyOnce>] Model of path: string
    | Dataset of name: string
    | [<AltCommandLine("-d")>] Data of path: string
    | [<AltCommandLine("-o")>] Out of folder: string
    | Replace_Maxpool

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Model _ -> "the ONNX model file (exported with a dynamic batch axis; see docs/IMPORT.md)."
            | Dataset _ -> "fashion-mnist (default), mnist, cifar10 or cifar100: the test split to check and score on."
            | Data _ -> "dataset folder (else SNN_DATA, else the Debian package's folder)."
            | Out _ -> "output folder (default runs/import/MODEL-NAME)."
            | Replace_Maxpool ->
                "replace MaxPool by average pooling of the same window (with a warning) instead of refusing it."

/// Images compared with ONNX Runtime.
let private comparedImages = 512

let private datasets =
    [ "fashion-mnist", DatasetKind.FashionMnist
      "mnist", DatasetKind.Mnist
      "cifar10", DatasetKind.Cifar10
      "cifar100", DatasetKind.Cifar100 ]

let private datasetOf (name: string) =
    match datasets |> List.tryFind (fun (n, _) -> n = name.ToLowerInvariant()) with
    | Some(_, kind) -> kind
    | None ->
        let valid = datasets |> List.map fst |> String.concat ", "

        raise (
            ArgumentException(
                $"--dataset = {name} is not a dataset import can score on: expected one of {valid}",
                "dataset"
            )
        )

/// The largest |imported - ONNX Runtime| over the logits of the first `count` test images.
let private maxLogitDifference (reference: OnnxReference) (network: CompiledNetwork) (loader: BatchLoader) count =
    let mutable seen = 0
    let mutable worst = 0.0

    for images, labels in loader.Epoch 0 do
        use images = images
        use _labels = labels

        if seen < count then
            let n = min (int images.shape[0]) (count - seen)
            use x = images.narrow(0, 0L, int64 n).contiguous ()
            let expected, _ = reference.Run(x.data<float32>().ToArray(), x.shape)
            use _ = torch.no_grad ()
            use y = network.forward x
            let actual = y.contiguous().data<float32>().ToArray()

            for k in 0 .. actual.Length - 1 do
                worst <- max worst (abs (float actual[k] - float expected[k]))

            seen <- seen + n

    worst, seen

/// Top-1 accuracy in percent over every batch of the loader.
let private accuracy (network: CompiledNetwork) (loader: BatchLoader) =
    let mutable correct = 0L
    let mutable total = 0L

    for images, labels in loader.Epoch 0 do
        use scope = torch.NewDisposeScope()
        use _ = torch.no_grad ()
        let predicted = network.forward(images).argmax 1L
        correct <- correct + predicted.eq(labels).sum().item<int64> ()
        total <- total + labels.shape[0]

    100.0 * float correct / float total, total

/// The network spec as JSON (the form of an experiment's "network"), for network.json.
let private specNode (spec: NetworkSpec) = Snn.Dsl.Json.SpecCodec.spec.Encode spec

/// The compiled network's state dict as safetensors entries (float32 and int64 tensors).
let private stateTensors (network: CompiledNetwork) =
    [ for KeyValue(name, t) in network.state_dict () do
          use c = t.detach().cpu().contiguous ()

          match c.dtype with
          | torch.ScalarType.Int64 -> name, Safetensors.I64(c.shape, c.data<int64>().ToArray())
          | _ ->
              use f = c.to_type torch.ScalarType.Float32
              name, Safetensors.F32(c.shape, f.data<float32>().ToArray()) ]

let private layersNode (model: ImportedModel) =
    let sources = Map.ofList model.Provenance
    let net = Compile.leafNames model.Info

    JsonArray(
        net
        |> List.map (fun (name, layer) ->
            let o = JsonObject()
            o["name"] <- JsonValue.Create name
            o["kind"] <- JsonValue.Create layer.KindName
            o["description"] <- JsonValue.Create layer.Description

            o["onnx_nodes"] <-
                JsonArray(
                    sources.TryFind name
                    |> Option.defaultValue []
                    |> List.map (fun s -> JsonValue.Create s :> JsonNode)
                    |> Array.ofList
                )

            match model.ClipMaxima |> List.tryFind (fun (n, _) -> n = name) with
            | Some(_, m) -> o["clip_max"] <- JsonValue.Create m
            | None -> ()

            o :> JsonNode)
        |> Array.ofList
    )

/// `snn import`: returns the exit code (1 when the model cannot be imported).
let run (args: ParseResults<ImportArgs>) =
    let path = args.GetResult Model
    let options = { ReplaceMaxPool = args.Contains Replace_Maxpool }

    let kind =
        args.TryGetResult Dataset
        |> Option.map datasetOf
        |> Option.defaultValue DatasetKind.FashionMnist

    let watch = Stopwatch.StartNew()

    match Import.fromFile options path with
    | Error errors ->
        eprintfn "snn import: %s cannot be imported (%d problem(s)):" path errors.Length

        for e in errors do
            eprintfn "  %s" e.Message

        1
    | Ok model ->
        let importSeconds = watch.Elapsed.TotalSeconds
        let name = Path.GetFileNameWithoutExtension path
        let folder = args.GetResult(Out, Path.Combine("runs", "import", name))

        for w in model.Warnings do
            eprintfn "warning: %s" w

        printfn
            "%s: %d nodes (opset %d, %s) -> %d layers, %s parameters, imported in %.2f s"
            path
            model.Nodes
            model.OpsetVersion
            model.Producer
            model.Spec.Layers.Length
            (Format.thousands model.Info.Parameters)
            importSeconds

        printfn "\n%s\n" (DslText.ofSpec model.Spec)

        for n, m in model.ClipMaxima do
            printfn "bounded ReLU %s: max %g" n m

        use splits = DataSplits.Load(kind, args.TryGetResult Data |> Option.toObj)
        let test = splits.Test

        match model.Spec.Input with
        | Image(c, h, w) when c = test.Channels && h = test.Height && w = test.Width -> ()
        | s ->
            raise (
                ArgumentException(
                    $"{path} expects inputs of {s}, but the {test.Name} test images are {test.Channels}x{test.Height}x{test.Width}: choose the dataset the model was trained on (--dataset)",
                    "dataset"
                )
            )

        let loader = BatchLoader(test, 256, false, Normalization.For kind)
        use network = Import.toNetwork model
        use reference = OnnxReference.FromFile path
        let diff, compared = maxLogitDifference reference network loader comparedImages
        printfn "max |imported - ONNX Runtime| over the logits of the first %d test images: %.3g" compared diff
        let acc, total = accuracy network loader
        printfn "imported ANN test accuracy: %.2f%% (%d images of %s)" acc total test.Name

        Directory.CreateDirectory folder |> ignore
        let weightsFile = Path.Combine(folder, "weights.safetensors")
        Safetensors.write weightsFile [ "format", "pt"; "onnx_file", Path.GetFullPath path ] (stateTensors network)

        let json =
            JsonSerializerOptions(
                WriteIndented = true,
                Encoder = Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping
            )

        File.WriteAllText(Path.Combine(folder, "network.json"), (specNode model.Spec).ToJsonString json)

        let report = JsonObject()
        report["onnx_file"] <- JsonValue.Create(Path.GetFullPath path)
        report["sha256"] <- JsonValue.Create(Import.sha256 path)
        report["producer"] <- JsonValue.Create model.Producer
        report["opset"] <- JsonValue.Create model.OpsetVersion
        report["nodes"] <- JsonValue.Create model.Nodes
        report["layers"] <- JsonValue.Create model.Spec.Layers.Length
        report["layer_table"] <- layersNode model
        report["parameters"] <- JsonValue.Create model.Info.Parameters

        report["warnings"] <-
            JsonArray(
                model.Warnings
                |> List.map (fun w -> JsonValue.Create w :> JsonNode)
                |> Array.ofList
            )

        report["import_seconds"] <- JsonValue.Create importSeconds
        report["dataset"] <- JsonValue.Create test.Name
        report["compared_images"] <- JsonValue.Create compared
        report["max_abs_logit_diff"] <- JsonValue.Create diff
        report["test_images"] <- JsonValue.Create total
        report["test_accuracy"] <- JsonValue.Create acc
        report["network_file"] <- JsonValue.Create "network.json"
        report["weights_file"] <- JsonValue.Create "weights.safetensors"
        File.WriteAllText(Path.Combine(folder, "import.json"), report.ToJsonString json)
        printfn "wrote %s (import.json, network.json, weights.safetensors)" folder
        0
