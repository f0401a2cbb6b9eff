// Helpers shared by the walk-throughs, over Snn.Dsl's public API only. The first cell of every
// notebook and script references the packages and loads this file:
//
//   #i "nuget: ../bin/packages"     the local feed that the repository's Release build fills
//   #r "nuget: Snn.Dsl"
//   #load "Setup.fsx"
//
// and the second cell references Plotly.NET and loads Charts.fsx. It works the same in a .NET
// Interactive kernel (Jupyter, Polyglot Notebooks, dotnet-repl) and under `dotnet fsi`.

open System
open System.IO
open System.Net

/// The folder of this file (Notebooks/), whatever the current directory.
let notebooks = __SOURCE_DIRECTORY__

/// Run folders of the walk-throughs (git-ignored): 02 and 03 reuse the run of 01.
let runsFolder = Path.Combine(notebooks, "runs")

/// Where scripts write their charts (git-ignored).
let outFolder = Path.Combine(notebooks, "out")

/// True inside a .NET Interactive kernel (a notebook), false under `dotnet fsi`.
let inNotebook =
    AppDomain.CurrentDomain.GetAssemblies()
    |> Array.exists (fun a -> a.GetName().Name = "Microsoft.DotNet.Interactive")

// The .NET Interactive kernels (dotnet-repl 0.3.259, Microsoft.dotnet-interactive 1.0.712001) carry
// FSharp.Core 10.0, while Plotly.NET 6 (the only version the package feed serves) is built against
// 10.1 and uses nothing that 10.0 lacks (checked by check-fsharp-core.fsx). Its requests for
// FSharp.Core 10.1 are answered with the kernel's own FSharp.Core, as a binding redirect would.
// This must run before Plotly.NET is referenced (the next cell); `dotnet fsi` carries 10.1 already.
if inNotebook then
    let kernelCore = typeof<list<int>>.Assembly

    Runtime.Loader.AssemblyLoadContext.Default.add_Resolving (fun _ name ->
        if name.Name = "FSharp.Core" then kernelCore else null)

// Loads TorchSharp's native libraries by absolute path before anything else uses TorchSharp.
Snn.Core.Native.TorchRuntime.EnsureNativeCompatibility()

/// Displays HTML in the notebook (no-op in a script).
let displayHtml (content: string) =
    if inNotebook then
        let kernel =
            AppDomain.CurrentDomain.GetAssemblies()
            |> Array.pick (fun a -> a.GetType "Microsoft.DotNet.Interactive.Kernel" |> Option.ofObj)

        let html = kernel.GetMethod("HTML").Invoke(null, [| box content |])
        kernel.GetMethod("display").Invoke(null, [| html; box Array.empty<string> |]) |> ignore

/// Inline display in a notebook, text in a script.
module Show =
    /// A table given as a header and rows: an HTML table in a notebook, aligned text in a script.
    let table (header: string list) (rows: string list list) =
        for r in rows do
            if r.Length <> header.Length then
                invalidArg "rows" $"a row has {r.Length} cells, the header {header.Length}: %A{r}"

        if inNotebook then
            let row tag (r: string list) =
                "<tr>" + (r |> List.map (fun c -> $"<{tag}>{WebUtility.HtmlEncode c}</{tag}>") |> String.concat "") + "</tr>"

            let head = row "th" header
            let body = rows |> List.map (row "td") |> String.concat "\n"
            displayHtml $"<table>\n<thead>{head}</thead>\n<tbody>\n{body}\n</tbody>\n</table>"
        else
            let widths = header |> List.mapi (fun i _ -> header :: rows |> List.map (fun r -> r[i].Length) |> List.max)
            let render (r: string list) = List.map2 (fun (c: string) w -> c.PadLeft w) r widths |> String.concat "  "
            printfn "%s" (render header)
            printfn "%s" (widths |> List.map (fun w -> String('-', w)) |> String.concat "  ")
            rows |> List.iter (render >> printfn "%s")

    /// A Markdown pipe table (e.g. Reporting.Markdown.summaryTable) shown with `table`.
    let markdownTable (markdown: string) =
        let rows =
            markdown.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            |> Array.map (fun l -> l.Trim().Trim('|').Split('|') |> Array.map (fun c -> c.Trim().Replace("**", "")) |> List.ofArray)
            |> Array.filter (List.forall (fun c -> c.Replace("-", "").Replace(":", "") = "") >> not)
            |> List.ofArray

        table rows.Head rows.Tail

    /// A PNG file: inline in a notebook (embedded, so the saved notebook shows it), its path in a script.
    let image (path: string) =
        if not (File.Exists path) then
            invalidArg "path" $"{path}: no such image (expected a PNG written by the run)"

        if inNotebook then
            displayHtml $"<img src=\"data:image/png;base64,{Convert.ToBase64String(File.ReadAllBytes path)}\" style=\"max-width:800px\"/>"
        else
            printfn "image: %s" path

/// A number with two decimals, or "-" for NaN (a stage the pipeline skipped).
let f2 (x: float) =
    if Double.IsNaN x then "-" else x.ToString("F2", Globalization.CultureInfo.InvariantCulture)

/// A number in scientific notation.
let sci (x: float) =
    x.ToString("0.00e+0", Globalization.CultureInfo.InvariantCulture)

/// The run of 01-quickstart (read without locking it), which 02 and 03 analyse.
let quickstartRun () =
    let folder = Path.Combine(runsFolder, "quickstart")

    if not (File.Exists(Path.Combine(folder, "results.json"))) then
        failwithf "%s has no results: run 01-quickstart first (it trains the network this notebook analyses)" folder

    Snn.Dsl.Pipeline.Run folder

/// `count` images of a split of the run's dataset from `start` on, normalised as the run trained,
/// in batches of `batch` (dataset order), each with its labels. The caller disposes the tensors.
let batches (run: Snn.Dsl.Pipeline.Run) (split: Snn.Core.Data.DataSplits -> Snn.Core.Data.ImageDataset) start count batch =
    let data = run.Experiment.Data
    use splits = Snn.Core.Data.DataSplits.Load(data.Dataset, Option.toObj data.Path, Option.toNullable data.HeldOut)
    use subset = (split splits).Subset(start, count)

    Snn.Core.Data.BatchLoader(subset, batch, false, data.Dataset.Normalization).Epoch 0
    |> Seq.map (fun struct (x, y) -> x, y)
    |> Seq.toList
