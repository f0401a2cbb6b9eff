// Shared set-up of the walk-throughs, loaded by the first cell of every notebook and script
// (`#load "Setup.fsx"`). It works the same in a .NET Interactive kernel (Polyglot Notebooks,
// dotnet-repl) and in `dotnet fsi`; every path is relative to this folder.
//
// - Snn.Core (C#), TorchSharp and ScottPlot come from the local Release build that the README's
//   set-up makes (../Snn.Cli/bin/Release/net10.0).
// - Snn.Dsl is compiled here from its sources (../Snn.Dsl, in the project's compile order) rather
//   than referenced as a DLL: the build uses FSharp.Core 10.1, while every .NET Interactive kernel
//   (dotnet-repl 0.3.259, Microsoft.dotnet-interactive 1.0.712001) ships FSharp.Core 10.0 and cannot
//   load an F# assembly built against 10.1. The same holds for Plotly.NET 6, so charts are plotly.js
//   figures written by the small `Chart` module below.
// - `Show.*` displays a chart, table or image inline in a notebook; in a script it prints the table
//   and writes the chart as a self-contained HTML file under Notebooks/out/.

// Silences two compiler infos on the Snn.Dsl sources: a file-level /// comment (FS3520) and
// one-element lists of tuples (FS3886).
#nowarn "3520"
#nowarn "3886"
#r "../Snn.Cli/bin/Release/net10.0/TorchSharp.dll"
#r "../Snn.Cli/bin/Release/net10.0/Snn.Core.dll"
#r "../Snn.Cli/bin/Release/net10.0/MathNet.Numerics.dll"
#r "../Snn.Cli/bin/Release/net10.0/ScottPlot.dll"
#r "../Snn.Cli/bin/Release/net10.0/SkiaSharp.dll"
#r "../Snn.Cli/bin/Release/net10.0/Google.Protobuf.dll"
#r "../Snn.Cli/bin/Release/net10.0/OnnxSharp.dll"
#r "../Snn.Cli/bin/Release/net10.0/Microsoft.ML.OnnxRuntime.dll"
#load "../Snn.Dsl/Json/Codec.fs"
#load "../Snn.Dsl/Network/Types.fs"
#load "../Snn.Dsl/Network/Problems.fs"
#load "../Snn.Dsl/Network/Inference.fs"
#load "../Snn.Dsl/Network/Validation.fs"
#load "../Snn.Dsl/Network/Builders.fs"
#load "../Snn.Dsl/Presets.fs"
#load "../Snn.Dsl/Json/SpecCodec.fs"
#load "../Snn.Dsl/Compile.fs"
#load "../Snn.Dsl/Fold.fs"
#load "../Snn.Dsl/Import/OnnxGraph.fs"
#load "../Snn.Dsl/Import/ImportTypes.fs"
#load "../Snn.Dsl/Import/ShapeArithmetic.fs"
#load "../Snn.Dsl/Import/NodeContext.fs"
#load "../Snn.Dsl/Import/WindowNodes.fs"
#load "../Snn.Dsl/Import/Nodes.fs"
#load "../Snn.Dsl/Import/Residuals.fs"
#load "../Snn.Dsl/Import/Walk.fs"
#load "../Snn.Dsl/Import/Importer.fs"
#load "../Snn.Dsl/Import/Safetensors.fs"
#load "../Snn.Dsl/Import/Reference.fs"
#load "../Snn.Dsl/Import/DslText.fs"
#load "../Snn.Dsl/Convert.fs"
#load "../Snn.Dsl/ThresholdFit.fs"
#load "../Snn.Dsl/ActivationStatistics.fs"
#load "../Snn.Dsl/Data.fs"
#load "../Snn.Dsl/Reporting/Binomial.fs"
#load "../Snn.Dsl/Reporting/Results.fs"
#load "../Snn.Dsl/Reporting/Accuracies.fs"
#load "../Snn.Dsl/Reporting/Plots.fs"
#load "../Snn.Dsl/Reporting/Markdown.fs"
#load "../Snn.Dsl/Reporting/Summary.fs"
#load "../Snn.Dsl/Pipeline/Progress.fs"
#load "../Snn.Dsl/Pipeline/Artifacts.fs"
#load "../Snn.Dsl/Pipeline/PerImage.fs"
#load "../Snn.Dsl/Pipeline/Records.fs"
#load "../Snn.Dsl/Pipeline/RunData.fs"
#load "../Snn.Dsl/Pipeline/Source.fs"
#load "../Snn.Dsl/Pipeline/Step.fs"
#load "../Snn.Dsl/Pipeline/LayerStep.fs"
#load "../Snn.Dsl/Pipeline/Kinds.fs"
#load "../Snn.Dsl/Pipeline/Evaluation.fs"
#load "../Snn.Dsl/Pipeline/Training.fs"
#load "../Snn.Dsl/Pipeline/AnnTraining.fs"
#load "../Snn.Dsl/Pipeline/SpikingRuns.fs"
#load "../Snn.Dsl/Pipeline/RunFolder.fs"
#load "../Snn.Dsl/Pipeline/ArtifactStore.fs"
#load "../Snn.Dsl/Pipeline/Plan.fs"
#load "../Snn.Dsl/Pipeline/Explain.fs"
#load "../Snn.Dsl/Pipeline/Context.fs"
#load "../Snn.Dsl/Reporting/Statistics.fs"
#load "../Snn.Dsl/Reporting/Build.fs"
#load "../Snn.Dsl/Pipeline/Steps/TrainRelu.fs"
#load "../Snn.Dsl/Pipeline/Steps/TrainClip.fs"
#load "../Snn.Dsl/Pipeline/Steps/ImportAnn.fs"
#load "../Snn.Dsl/Pipeline/Steps/ClipFromRelu.fs"
#load "../Snn.Dsl/Pipeline/Steps/FineTuneClip.fs"
#load "../Snn.Dsl/Pipeline/Steps/FoldBatchNorm.fs"
#load "../Snn.Dsl/Pipeline/Steps/FineTuneQC.fs"
#load "../Snn.Dsl/Pipeline/Steps/Conversion.fs"
#load "../Snn.Dsl/Pipeline/Steps/CalibratePotential.fs"
#load "../Snn.Dsl/Pipeline/Steps/CalibrateWeights.fs"
#load "../Snn.Dsl/Pipeline/Steps/LayerSteps.fs"
#load "../Snn.Dsl/Pipeline/Steps/PhaseTwo.fs"
#load "../Snn.Dsl/Pipeline/Steps/Ablation.fs"
#load "../Snn.Dsl/Pipeline/Steps/FineTuneSnn.fs"
#load "../Snn.Dsl/Pipeline/Steps/Evaluate.fs"
#load "../Snn.Dsl/Pipeline/Steps/Qcfs.fs"
#load "../Snn.Dsl/Pipeline/Steps/Report.fs"
#load "../Snn.Dsl/Pipeline/Steps/Registry.fs"
#load "../Snn.Dsl/Steps.fs"
#load "../Snn.Dsl/Experiment.fs"
#load "../Snn.Dsl/Profiles.fs"
#load "../Snn.Dsl/Pipeline/Runner.fs"
#load "../Snn.Dsl/Pipeline/Run.fs"
#load "../Snn.Dsl/Pipeline/Seeds.fs"

Snn.Core.Native.TorchRuntime.EnsureNativeCompatibility()

open System
open System.IO
open System.Net
open System.Text
open System.Text.Json

/// The folder of this file (Notebooks/), whatever the current directory.
let notebooks = __SOURCE_DIRECTORY__

/// Shared run folders of the walk-throughs (git-ignored): 02 and 03 reuse the run of 01.
let runsFolder = Path.Combine(notebooks, "runs")

/// Where scripts write their charts (git-ignored).
let outFolder = Path.Combine(notebooks, "out")

/// True inside a .NET Interactive kernel (a notebook), false under `dotnet fsi`.
let inNotebook =
    AppDomain.CurrentDomain.GetAssemblies()
    |> Array.exists (fun a -> a.GetName().Name = "Microsoft.DotNet.Interactive")

/// A plotly.js figure: traces and layout as JSON nodes.
type Figure =
    { Name: string
      Traces: Nodes.JsonObject list
      Layout: Nodes.JsonObject }

/// Builds plotly.js figures (the JSON that Plotly.NET would produce for the same chart).
module Chart =
    let private node (x: obj) = JsonSerializer.SerializeToNode x

    let private obj (fields: (string * obj) list) =
        let o = Nodes.JsonObject()

        for k, v in fields do
            o[k] <- node v

        o

    /// A line with markers through (x, y); `dash` draws it dashed.
    let line (name: string) (xs: float seq) (ys: float seq) (dash: bool) =
        obj
            [ "type", box "scatter"
              "mode", box "lines+markers"
              "name", box name
              "x", box (Array.ofSeq xs)
              "y", box (Array.ofSeq ys)
              "line", box (dict [ "dash", (if dash then "dash" else "solid") ]) ]

    /// Points at (x, y) with hover labels.
    let points (name: string) (xs: float seq) (ys: float seq) (labels: string seq) =
        obj
            [ "type", box "scatter"
              "mode", box "markers+text"
              "name", box name
              "x", box (Array.ofSeq xs)
              "y", box (Array.ofSeq ys)
              "text", box (Array.ofSeq labels)
              "textposition", box "top center" ]

    /// Bars of height y at categories x.
    let bars (name: string) (xs: string seq) (ys: float seq) =
        obj [ "type", box "bar"; "name", box name; "x", box (Array.ofSeq xs); "y", box (Array.ofSeq ys) ]

    /// A histogram drawn from pre-computed bin centres and counts.
    let histogram (name: string) (centres: float seq) (counts: float seq) =
        obj
            [ "type", box "bar"
              "name", box name
              "x", box (Array.ofSeq centres)
              "y", box (Array.ofSeq counts)
              "opacity", box 0.6 ]

    /// A figure with a title and axis titles; `logX` uses a log2-spaced x axis (time steps).
    let figure (name: string) (title: string) (xTitle: string) (yTitle: string) (logX: bool) (traces: Nodes.JsonObject list) =
        let xaxis =
            if logX then
                box (dict [ "title", box xTitle; "type", box "log"; "dtick", box (Math.Log10 2.0) ])
            else
                box (dict [ "title", box xTitle ])

        { Name = name
          Traces = traces
          Layout =
            obj
                [ "title", box title
                  "xaxis", xaxis
                  "yaxis", box (dict [ "title", yTitle ])
                  "barmode", box "group"
                  "width", box 800
                  "height", box 450 ] }

    /// HTML of the figure: a div and a script that draws it with plotly.js.
    let html (f: Figure) =
        let id = "plot-" + Guid.NewGuid().ToString("N")
        let data = Nodes.JsonArray(f.Traces |> List.map (fun t -> t.DeepClone()) |> Array.ofList)

        $"""<div id="{id}" style="width:800px;height:450px"></div>
<script type="text/javascript">
(function () {{
  var draw = function () {{ Plotly.newPlot('{id}', {data.ToJsonString()}, {f.Layout.ToJsonString()}); }};
  if (typeof Plotly !== 'undefined') {{ draw(); return; }}
  var s = document.createElement('script');
  s.src = 'https://cdn.plot.ly/plotly-2.27.0.min.js';
  s.onload = draw;
  document.head.appendChild(s);
}})();
</script>"""

/// Inline display in a notebook, files and text in a script.
module Show =
    let private kernel =
        lazy
            (AppDomain.CurrentDomain.GetAssemblies()
             |> Array.pick (fun a ->
                 match a.GetType "Microsoft.DotNet.Interactive.Kernel" with
                 | null -> None
                 | t -> Some t))

    /// Displays HTML in the notebook (no-op in a script).
    let html (content: string) =
        if inNotebook then
            let k = kernel.Force()
            let h = k.GetMethod("HTML").Invoke(null, [| box content |])
            k.GetMethod("display").Invoke(null, [| h; box Array.empty<string> |]) |> ignore

    /// Shows a chart: inline in a notebook; in a script, written to out/<name>.html.
    let chart (f: Figure) =
        if inNotebook then
            html (Chart.html f)
        else
            Directory.CreateDirectory outFolder |> ignore
            let path = Path.Combine(outFolder, f.Name + ".html")
            File.WriteAllText(path, $"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{f.Name}</title></head><body>\n{Chart.html f}\n</body></html>\n")
            printfn "chart %s: %s" f.Name path

    /// Shows a table given as a header and rows: an HTML table in a notebook, aligned text in a script.
    let table (header: string list) (rows: string list list) =
        for r in rows do
            if r.Length <> header.Length then
                invalidArg "rows" $"a row has {r.Length} cells, the header {header.Length}: %A{r}"

        if inNotebook then
            let cells tag (r: string list) =
                r |> List.map (fun c -> $"<{tag}>{WebUtility.HtmlEncode c}</{tag}>") |> String.concat ""

            let row tag r = "<tr>" + cells tag r + "</tr>"
            let body = rows |> List.map (row "td") |> String.concat "\n"
            let head = row "th" header
            html $"<table>\n<thead>{head}</thead>\n<tbody>\n{body}\n</tbody>\n</table>"
        else
            let all = header :: rows
            let widths = header |> List.mapi (fun i _ -> all |> List.map (fun r -> (List.item i r).Length) |> List.max)
            let render (r: string list) = List.map2 (fun (c: string) w -> c.PadLeft w) r widths |> String.concat "  "
            printfn "%s" (render header)
            printfn "%s" (widths |> List.map (fun w -> String('-', w)) |> String.concat "  ")

            for r in rows do
                printfn "%s" (render r)

    /// Shows a Markdown pipe table (e.g. Markdown.summaryTable) with `table`.
    let markdownTable (markdown: string) =
        let rows =
            markdown.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            |> Array.map (fun l -> l.Trim().Trim('|').Split('|') |> Array.map (fun c -> c.Trim().Replace("**", "")) |> List.ofArray)
            |> Array.filter (fun r -> not (r |> List.forall (fun c -> c.Replace("-", "").Replace(":", "") = "")))
            |> List.ofArray

        table rows.Head rows.Tail

    /// Shows a PNG file: inline in a notebook, its path in a script.
    let image (path: string) =
        if not (File.Exists path) then
            invalidArg "path" $"{path}: no such image (expected a PNG written by the run)"

        if inNotebook then
            let data = System.Convert.ToBase64String(File.ReadAllBytes path)
            html $"<img src=\"data:image/png;base64,{data}\" style=\"max-width:800px\"/>"
        else
            printfn "image: %s" path

/// A number with two decimals, or "-" for NaN (a stage the pipeline skipped).
let f2 (x: float) =
    if Double.IsNaN x then "-" else x.ToString("F2", Globalization.CultureInfo.InvariantCulture)

/// A number in scientific notation.
let sci (x: float) =
    x.ToString("0.00e+0", Globalization.CultureInfo.InvariantCulture)

/// The run of 01-quickstart, which 02 and 03 reuse (run 01 first).
module Quickstart =
    open TorchSharp
    open Snn.Core.Data
    open Snn.Dsl

    /// The run folder of 01-quickstart.
    let folder = Path.Combine(runsFolder, "quickstart")

    /// The run of 01 (read without locking it); fails with a clear message when 01 has not run.
    let run () =
        if not (File.Exists(Path.Combine(folder, "results.json"))) then
            failwithf "%s has no results: run 01-quickstart first (it trains the network this notebook analyses)" folder

        Pipeline.Run folder

    /// The run's experiment and results.
    let load () =
        let r = run ()
        r.Experiment, r.Results

    /// The Phase-I QC network fine-tuned at L (batch norm folded), in eval mode.
    let fineTuned (_: Experiment) (l: int) = (run ()).Ann(Pipeline.QcAnn l)

    /// The spiking network converted from a compiled network.
    let toSpiking (net: CompiledNetwork) =
        match Convert.toSpiking ConversionOptions.Default net with
        | Ok s -> s
        | Error es -> failwithf "%A" es

    /// `count` normalised images of a split with their labels, in one batch (no shuffling).
    let labelled (split: DataSplits -> ImageDataset) (start: int) (count: int) =
        use splits = DataSplits.Load(DatasetKind.FashionMnist, null)
        use subset = (split splits).Subset(start, count)
        let struct (x, y) = BatchLoader(subset, count, false, Normalization.For DatasetKind.FashionMnist).Epoch 0 |> Seq.head
        x, y

    /// Test accuracy (%) of `net` at T on a labelled batch.
    let accuracy (net: Snn.Core.Simulation.SpikingNetwork) (t: int) (images: torch.Tensor, labels: torch.Tensor) =
        use scope = torch.NewDisposeScope()
        use result = net.Run(images, t)
        100.0 * result.Output.argmax(1L).eq(labels).to_type(torch.ScalarType.Float64).mean().item<float> ()

    /// `count` normalised images of a split, in batches of `batch` (first images, no shuffling).
    let images (split: DataSplits -> ImageDataset) (start: int) (count: int) (batch: int) =
        use splits = DataSplits.Load(DatasetKind.FashionMnist, null)
        use subset = (split splits).Subset(start, count)

        BatchLoader(subset, batch, false, Normalization.For DatasetKind.FashionMnist).Epoch 0
        |> Seq.map (fun struct (x, y) ->
            y.Dispose()
            x)
        |> Seq.toArray
