/// PNG plots of a run's results (ScottPlot).
module Snn.Dsl.Reporting.Plots

open System.Globalization
open System.IO
open ScottPlot
open Snn.Dsl.Reporting.Results

let private palette = Palettes.Category10()

/// The plot as PNG bytes of `width` x `height` pixels, drawn in the invariant culture: ScottPlot
/// formats its tick labels in the current culture when it draws, and a plot's figures read as
/// report.md's do (92.5, not 92,5) whatever the locale of the notebook or program that draws it.
let private pngBytes (plt: Plot) (width: int) (height: int) =
    let culture = CultureInfo.CurrentCulture
    CultureInfo.CurrentCulture <- CultureInfo.InvariantCulture

    try
        plt.GetImageBytes(width, height, ImageFormat.Png)
    finally
        CultureInfo.CurrentCulture <- culture

/// Writes the plot as a PNG of `width` x `height` pixels atomically (Snn.Core AtomicFile), so
/// that a failed write (a full disk) leaves the previous file and no partial one.
let savePng (plt: Plot) (path: string) (width: int) (height: int) =
    let png = pngBytes plt width height
    Snn.Core.Checkpoints.AtomicFile.Write(path, (fun s -> s.Write(png, 0, png.Length)))

let private log2 (t: int) = System.Math.Log2(float t)

let private timeAxis (plt: Plot) (ts: int[]) =
    plt.Axes.Bottom.SetTicks(ts |> Array.map log2, ts |> Array.map string)
    plt.XLabel "time steps T"

/// How one series is drawn: its own colour, line pattern and marker shape.
type private Style =
    { Color: int
      Pattern: LinePattern
      Marker: MarkerShape }

let private styled (plt: Plot) (style: Style) (label: string) (xs: float[]) (ys: float[]) =
    let s = plt.Add.Scatter(xs, ys)
    s.LegendText <- label
    s.Color <- palette.GetColor style.Color
    s.LineWidth <- 2.0f
    s.MarkerSize <- 7.0f
    s.MarkerShape <- style.Marker
    s.LinePattern <- style.Pattern

let private line (plt: Plot) (color: int) (label: string) (xs: float[]) (ys: float[]) (dashed: bool) =
    styled
        plt
        { Color = color
          Pattern = (if dashed then LinePattern.Dashed else LinePattern.Solid)
          Marker = MarkerShape.FilledCircle }
        label
        xs
        ys

/// A flat reference line across the T axis, labelled with its accuracy at its right end (two ANN
/// lines of nearly equal accuracy stay told apart by colour, pattern and label).
let private reference (plt: Plot) (style: Style) (name: string) (span: float[]) (accuracy: float) =
    styled plt { style with Marker = MarkerShape.None } $"{name} (%.2f{accuracy}%%)" span [| accuracy; accuracy |]
    let text = plt.Add.Text($"{name} %.2f{accuracy}%%", span[1], accuracy)
    text.LabelFontColor <- palette.GetColor style.Color
    text.LabelFontSize <- 11.0f
    text.LabelAlignment <- Alignment.LowerRight

/// The dual-phase stages of accuracy_vs_T.png, each with a style no other series shares.
let private stages: (string * (StageAccuracies -> float) * Style) list =
    let s color marker =
        { Color = color
          Pattern = LinePattern.Solid
          Marker = marker }

    [ "direct conversion", (fun s -> s.Direct), s 0 MarkerShape.FilledCircle
      "Phase I (QC fine-tuned)", (fun s -> s.Phase1), s 1 MarkerShape.FilledSquare
      "+ potential calibration", (fun s -> s.Potential), s 2 MarkerShape.FilledTriangleUp
      "+ weight calibration", (fun s -> s.Weights), s 4 MarkerShape.FilledDiamond
      "dual-phase final", (fun s -> s.Final), s 9 MarkerShape.FilledTriangleDown ]

/// accuracy_vs_T.png: the ANNs as flat references, QCFS and every dual-phase stage against T,
/// every series in its own colour, line pattern and marker.
let accuracyVsT (folder: string) (r: RunResults) =
    use plt = new Plot()
    let dual = r.DualPhase |> Array.sortBy (fun d -> d.T)

    let ts =
        Array.append (dual |> Array.map (fun d -> d.T)) (r.Qcfs.Snn |> Array.map (fun q -> q.T))
        |> Array.distinct
        |> Array.sort

    let span = [| log2 ts[0]; log2 ts[ts.Length - 1] |]

    let ann color pattern =
        { Color = color
          Pattern = pattern
          Marker = MarkerShape.None }

    let annName =
        if not (isNull r.Imported) && r.Imported.Length > 0 then
            "imported ANN"
        else
            "ReLU ANN"

    reference plt (ann 7 LinePattern.Dashed) annName span r.Ann.TestAccuracy
    reference plt (ann 8 LinePattern.Dotted) "clip ANN" span r.ClipAnn.TestAccuracy

    let qs = r.Qcfs.Snn |> Array.sortBy (fun q -> q.T)

    styled
        plt
        { Color = 3
          Pattern = LinePattern.DenselyDashed
          Marker = MarkerShape.OpenSquare }
        $"QCFS SNN (L={r.Qcfs.L})"
        (qs |> Array.map (fun q -> log2 q.T))
        (qs |> Array.map (fun q -> q.TestAccuracy))

    let xs = dual |> Array.map (fun d -> log2 d.T)

    // Stages a T did not run (NaN, e.g. no Phase II there) are left out of their line.
    for label, get, style in stages do
        let points =
            Array.zip xs (dual |> Array.map (fun d -> get d.Snn))
            |> Array.filter (fun (_, y) -> not (System.Double.IsNaN y))

        if points.Length > 0 then
            styled plt style label (Array.map fst points) (Array.map snd points)

    timeAxis plt ts
    plt.YLabel "test accuracy (%)"
    plt.Title $"{r.Splits.Dataset}: accuracy vs time steps"
    plt.ShowLegend(Alignment.LowerRight) |> ignore
    let path = Path.Combine(folder, "accuracy_vs_T.png")
    savePng plt path 900 600
    path

/// errors_T{T}.png: mean |residual|, |quantization| and |clipping| error per layer, before
/// (Phase I) and after Phase II, as grouped bars.
let errorsPerLayer (folder: string) (entry: DualPhaseEntry) =
    use plt = new Plot()

    let layersOf stage =
        entry.Layers |> Array.filter (fun l -> l.Stage = stage)

    let before = layersOf "phase1"
    let after = layersOf "final"
    let names = before |> Array.map (fun l -> l.Name)

    let series =
        [ "residual, Phase I", 3, before |> Array.map (fun l -> l.ResidualMeanAbs)
          "residual, after Phase II", 2, after |> Array.map (fun l -> l.ResidualMeanAbs)
          "quantization, Phase I", 0, before |> Array.map (fun l -> l.QuantizationMeanAbs)
          "quantization, after Phase II", 9, after |> Array.map (fun l -> l.QuantizationMeanAbs)
          "clipping, Phase I", 1, before |> Array.map (fun l -> l.ClippingMeanAbs)
          "clipping, after Phase II", 5, after |> Array.map (fun l -> l.ClippingMeanAbs) ]

    let width = 1.0 / float (series.Length + 1)

    series
    |> List.iteri (fun k (label, color, values) ->
        let bars =
            values
            |> Array.mapi (fun i v ->
                Bar(Position = float i + float k * width, Value = v, FillColor = palette.GetColor color, Size = width))

        plt.Add.Bars(bars) |> ignore
        plt.Legend.ManualItems.Add(LegendItem(LabelText = label, FillColor = palette.GetColor color)))

    plt.Axes.Bottom.SetTicks(names |> Array.mapi (fun i _ -> float i + 0.5 - width), names)
    plt.YLabel "mean |error| per neuron"
    plt.Title $"Error terms per layer at T = {entry.T}"
    plt.ShowLegend(Alignment.UpperRight) |> ignore
    let path = Path.Combine(folder, $"errors_T{entry.T}.png")
    savePng plt path 1000 600
    path

/// potentials_T{T}.png: the distribution of v(T)/theta per layer, before (dashed) and after
/// (solid) Phase II; the band [0, 1) is where the residual error is zero.
let potentialDistribution (folder: string) (entry: DualPhaseEntry) =
    use plt = new Plot()
    let names = entry.Potentials |> Array.map (fun h -> h.Name) |> Array.distinct

    for h in entry.Potentials do
        let n = h.Counts.Length
        let total = max 1L (Array.sum h.Counts) |> float
        let step = (h.High - h.Low) / float n
        let xs = Array.init n (fun i -> h.Low + (float i + 0.5) * step)
        let ys = h.Counts |> Array.map (fun c -> float c / total)
        let color = Array.findIndex ((=) h.Name) names

        let label =
            if h.Stage = "final" then
                $"{h.Name} (after Phase II)"
            else
                $"{h.Name} (Phase I)"

        let s = plt.Add.Scatter(xs, ys)
        s.LegendText <- label
        s.Color <- palette.GetColor color
        s.MarkerSize <- 0.0f
        s.LineWidth <- 2.0f

        if h.Stage <> "final" then
            s.LinePattern <- LinePattern.Dashed

    let v0 = plt.Add.VerticalLine(0.0)
    v0.Color <- Colors.Gray
    let v1 = plt.Add.VerticalLine(1.0)
    v1.Color <- Colors.Gray
    plt.XLabel "v(T) / theta"
    plt.YLabel "share of neurons"
    plt.Title $"Final membrane potential at T = {entry.T} (zero residual error inside [0, 1))"
    plt.ShowLegend(Alignment.UpperRight) |> ignore
    let path = Path.Combine(folder, $"potentials_T{entry.T}.png")
    savePng plt path 1000 600
    path

/// energy_vs_T.png: E_ANN / E_SNN for the dual-phase SNN and QCFS against T.
let energyVsT (folder: string) (r: RunResults) =
    use plt = new Plot()
    let dual = r.DualPhase |> Array.sortBy (fun d -> d.T)
    let qs = r.Qcfs.Snn |> Array.sortBy (fun q -> q.T)

    line
        plt
        2
        "dual-phase SNN"
        (dual |> Array.map (fun d -> log2 d.T))
        (dual |> Array.map (fun d -> d.EnergyRatio))
        false

    line plt 3 "QCFS SNN" (qs |> Array.map (fun q -> log2 q.T)) (qs |> Array.map (fun q -> q.EnergyRatio)) false

    let ts =
        Array.append (dual |> Array.map (fun d -> d.T)) (qs |> Array.map (fun q -> q.T))
        |> Array.distinct
        |> Array.sort

    let one = plt.Add.HorizontalLine(1.0)
    one.Color <- Colors.Gray
    timeAxis plt ts
    plt.YLabel "E_ANN / E_SNN"
    plt.Title "Estimated energy advantage (4.6 pJ/MAC, 0.9 pJ/SOP)"
    plt.ShowLegend(Alignment.UpperRight) |> ignore
    let path = Path.Combine(folder, "energy_vs_T.png")
    savePng plt path 900 600
    path

/// Writes every plot of a run into <folder> and returns their paths.
let writeAll (folder: string) (r: RunResults) =
    [ yield accuracyVsT folder r
      yield energyVsT folder r
      for d in r.DualPhase do
          if d.Layers.Length > 0 then
              yield errorsPerLayer folder d

          if d.Potentials.Length > 0 then
              yield potentialDistribution folder d ]
