// Plotly.NET charts that display without network access, loaded by the second cell of every
// walk-through after Plotly.NET and Plotly.NET.Interactive are referenced (Setup.fsx first).
//
// Plotly.NET.Interactive's own formatter points the notebook at plotly.js on a CDN. The formatter
// registered here instead embeds plotly.js, which Plotly.NET.dll carries as a resource, in the
// first chart a kernel session shows (later charts use the same `Plotly` object of the page), so
// a saved notebook holds everything it needs. In a script, `show` writes a self-contained HTML
// file to Notebooks/out/.

// Setup.fsx (loaded by the first cell) is in scope.

open System
open System.IO
open Plotly.NET
open Setup

/// plotly.js as shipped inside Plotly.NET.dll.
let plotlyJs =
    let name = $"Plotly.NET.plotly-{Globals.PLOTLYJS_VERSION}.min.js"

    use stream =
        typeof<GenericChart>.Assembly.GetManifestResourceStream name
        |> Option.ofObj
        |> Option.defaultWith (fun () -> failwith $"Plotly.NET.dll has no resource {name}")

    use reader = new StreamReader(stream)
    reader.ReadToEnd()

/// A script element that defines `window.Plotly` (module loaders of the page, such as the classic
/// notebook's require.js, are hidden from plotly.js so that it always sets the global).
let plotlyScript =
    $"<script type=\"text/javascript\">(function () {{ if (window.Plotly) {{ return; }} var define, module, exports;\n{plotlyJs}\n}})();</script>"

let mutable private embedded = false

/// The chart as an HTML fragment that draws itself with the page's plotly.js.
let chartHtml (chart: GenericChart) =
    chart
    |> Chart.withDisplayOptionsStyle (PlotlyJSReference = PlotlyJSReference.NoReference)
    |> GenericChart.toChartHTML

/// The chart for a notebook output: plotly.js first if this kernel session has not shown it yet.
let notebookHtml (chart: GenericChart) =
    let head = if embedded then "" else plotlyScript
    embedded <- true
    head + chartHtml chart

if inNotebook then
    Microsoft.DotNet.Interactive.Formatting.Formatter.Register<GenericChart>(
        Action<GenericChart, TextWriter>(fun chart writer -> writer.Write(notebookHtml chart)),
        "text/html"
    )

/// Shows a chart: inline in a notebook; in a script, written to out/<name>.html with plotly.js inside.
let show (name: string) (chart: GenericChart) =
    if inNotebook then
        displayHtml (notebookHtml chart)
    else
        Directory.CreateDirectory outFolder |> ignore
        let path = Path.Combine(outFolder, name + ".html")

        File.WriteAllText(
            path,
            $"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{name}</title>\n{plotlyScript}\n</head><body>\n{chartHtml chart}\n</body></html>\n"
        )

        printfn "chart %s: %s" name path
