/// `snn bench --scale`: how the cost grows with the model, T and the batch. For each model
/// (ScaleMeasure.models) on synthetic images of its input shape: images/s and peak working set of
/// the ANN pass, of the SNN simulation at T = 1, 4, 16, and of one Phase II layer step, each in its
/// own child process; then power-law fits time ~ x^k of the growth with T, batch size and MACs.
/// Printed, and written to bench.json under "scale" (other keys of an existing file are kept).
module Snn.Cli.Bench.Scale

open System
open System.IO
open System.Text.Json.Nodes
open Snn.Cli.Bench.Args
open Snn.Cli.Bench.Measure
open Snn.Cli.Bench.Child
open Snn.Cli.Bench.Figures

/// One measured row.
type Row =
    { Model: string
      Macs: float
      Part: string
      T: int
      Batch: int
      ImagesPerSecond: float
      PeakMb: float }

/// The sizes of a scale run: full, or --quick (a smoke run a test can afford).
let private sizes (plan: Plan) =
    if plan.Quick then
        {| Ts = [ 1; 2 ]
           Batch = 2
           Batches = [ 1; 2 ] |}
    else
        {| Ts = [ 1; 4; 16 ]
           Batch = 32
           Batches = [ 8; 16; 32 ] |}

/// Least-squares slope k of log y = c + k log x (the exponent of y ~ x^k); NaN with < 2 distinct x.
let powerFit (points: (float * float) list) =
    let pts =
        points
        |> List.filter (fun (x, y) -> x > 0.0 && y > 0.0)
        |> List.map (fun (x, y) -> Math.Log x, Math.Log y)

    let n = float pts.Length
    let mx = pts |> List.averageBy fst
    let my = pts |> List.averageBy snd
    let sxx = pts |> List.sumBy (fun (x, _) -> (x - mx) ** 2.0)

    if pts.Length < 2 || sxx = 0.0 || n < 2.0 then
        nan
    else
        (pts |> List.sumBy (fun (x, y) -> (x - mx) * (y - my))) / sxx

let private measureRow (plan: Plan) model part t batch =
    let args =
        [ "--only"; part; "--model"; model; "--batch"; string batch ]
        @ (if t > 0 then [ "--T"; string t ] else [])

    let r = runChild plan args

    let row =
        { Model = model
          Macs = ScaleMeasure.macsOf (ScaleMeasure.specOf model)
          Part = part.Replace("scale-", "")
          T = int (num r "T")
          Batch = batch
          ImagesPerSecond = num r "images_per_second"
          PeakMb = num r "peak_working_set_mb" }

    let what = if row.T > 0 then $"{row.Part} T={row.T}" else row.Part
    printfn "%-11s %-14s batch %3d  %10.1f images/s  peak %7.0f MB" model what batch row.ImagesPerSecond row.PeakMb
    row

let private rowNode (r: Row) : JsonNode =
    JsonObject(
        dict
            [ "model", JsonValue.Create r.Model :> JsonNode
              "macs_per_image", JsonValue.Create r.Macs
              "part", JsonValue.Create r.Part
              "T", JsonValue.Create r.T
              "batch", JsonValue.Create r.Batch
              "images_per_second", JsonValue.Create r.ImagesPerSecond
              "peak_working_set_mb", JsonValue.Create r.PeakMb ]
    )

/// Seconds per image of a row.
let private secondsPerImage (r: Row) = 1.0 / r.ImagesPerSecond

/// The fitted exponents: time per image against T (per model), against the batch size (per
/// image: 0 means linear in the batch), and against MACs (ANN, and SNN at the middle T).
let private fits
    (sz:
        {| Ts: int list
           Batch: int
           Batches: int list |})
    (rows: Row list)
    (batchRows: Row list)
    =
    let tMid = sz.Ts[sz.Ts.Length / 2]

    let perModel =
        [ for model, _ in ScaleMeasure.models ->
              let snn =
                  rows
                  |> List.filter (fun r -> r.Model = model && r.Part = "snn" && r.Batch = sz.Batch)

              model, powerFit [ for r in snn -> float r.T, secondsPerImage r ] ]

    let batch =
        powerFit [ for r in batchRows -> float r.Batch, float r.Batch * secondsPerImage r ]

    let macs part t =
        powerFit
            [ for r in rows do
                  if r.Part = part && r.T = t && r.Batch = sz.Batch then
                      r.Macs, secondsPerImage r ]

    perModel, batch, macs "ann" 0, macs "snn" tMid, tMid

/// `snn bench --scale`.
let run (plan: Plan) (output: string) =
    let clock = Diagnostics.Stopwatch.StartNew()
    let sz = sizes plan

    printfn
        "snn bench --scale%s: %d cores (shared with anything else running), synthetic images"
        (if plan.Quick then " --quick" else "")
        Environment.ProcessorCount

    let rows =
        [ for model, _ in ScaleMeasure.models do
              yield measureRow plan model "scale-ann" 0 sz.Batch

              for t in sz.Ts do
                  yield measureRow plan model "scale-snn" t sz.Batch

              yield measureRow plan model "scale-phase2" 4 sz.Batch ]

    // Growth with the batch: resnet20's simulation at the middle T.
    let tMid = sz.Ts[sz.Ts.Length / 2]

    let batchRows =
        [ for b in sz.Batches ->
              match
                  rows
                  |> List.tryFind (fun r -> r.Model = "resnet20" && r.Part = "snn" && r.T = tMid && r.Batch = b)
              with
              | Some r -> r
              | None -> measureRow plan "resnet20" "scale-snn" tMid b ]

    let perModel, batch, annMacs, snnMacs, _ = fits sz rows batchRows
    printfn ""

    for model, k in perModel do
        printfn "%-11s SNN time per image ~ T^%.2f" model k

    printfn "resnet20 SNN (T=%d) time per batch ~ batch^%.2f" tMid batch
    printfn "time per image ~ MACs^%.2f (ANN), ~ MACs^%.2f (SNN, T=%d)" annMacs snnMacs tMid

    let resnet34 =
        rows
        |> List.tryFind (fun r -> r.Model = "resnet34" && r.Part = "snn" && r.T = List.max sz.Ts)

    resnet34
    |> Option.iter (fun r ->
        printfn
            "resnet34 SNN at T=%d, batch %d: peak working set %.0f MB (%s 8 GB)"
            r.T
            r.Batch
            r.PeakMb
            (if r.PeakMb < 8192.0 then "under" else "OVER"))

    let scale =
        JsonObject(
            dict
                [ "quick", JsonValue.Create plan.Quick :> JsonNode
                  "cores", JsonValue.Create Environment.ProcessorCount
                  "input", JsonValue.Create "seeded normal noise of each model's input shape"
                  "rows", JsonArray(rows @ batchRows |> List.distinct |> List.map rowNode |> Array.ofList)
                  "fit_time_per_image_vs_T",
                  JsonObject(dict [ for m, k in perModel -> m, JsonValue.Create k :> JsonNode ])
                  "fit_time_per_batch_vs_batch", JsonValue.Create batch
                  "fit_time_per_image_vs_macs_ann", JsonValue.Create annMacs
                  "fit_time_per_image_vs_macs_snn", JsonValue.Create snnMacs
                  "seconds", JsonValue.Create clock.Elapsed.TotalSeconds ]
        )

    let root =
        if File.Exists output then
            match JsonNode.Parse(File.ReadAllText output) with
            | :? JsonObject as o -> o
            | _ -> JsonObject()
        else
            JsonObject()

    root["scale"] <- scale
    File.WriteAllText(output, root.ToJsonString(Text.Json.JsonSerializerOptions(WriteIndented = true)))
    printfn "wrote %s (\"scale\", %.0f s)" output clock.Elapsed.TotalSeconds
    0
