(**
# 03 · Energy and latency

An SNN replaces multiply-accumulates (MACs, 4.6 pJ each in 45 nm CMOS) by synaptic operations
(SOPs, 0.9 pJ): one per spike per outgoing synapse. Only the first layer, which receives the
analog image, still multiplies at every time step:

E_ANN = 4.6 pJ × MACs,  E_SNN = 0.9 pJ × SOPs + 4.6 pJ × T × first-layer MACs.

More time steps buy accuracy with energy. This notebook reads the numbers the run of
01-quickstart measured, then simulates the Phase-I network itself to split the SOPs by layer.
*)

#r "nuget: Snn.Dsl"
#load "Setup.fsx"
open Setup

// ----

#r "nuget: Plotly.NET, 6.0.0"
#r "nuget: Plotly.NET.Interactive, 6.0.0"
#load "Charts.fsx"
open Charts
open Plotly.NET
open TorchSharp
open Snn.Core.Energy
open Snn.Core.Simulation

let run = quickstartRun ()
let results = run.Results
let dual = results.DualPhase |> Array.sortBy (fun d -> d.T)
let qcfs = results.Qcfs.Snn |> Array.sortBy (fun q -> q.T)
let energy = EnergyModel.Default
let annEnergy = energy.AnnEnergy results.Ann.MacsPerImage

(**
## SOPs and energy against T (whole network)

The run's dual-phase SNN and the QCFS baseline, per test image. The dashed line is the ANN's
energy: below it the SNN is cheaper.
*)

let snnEnergy (sops: float) (firstMacs: float) (t: int) = energy.SnnEnergy(sops, firstMacs, t)

[ Chart.Line(
      [ float dual[0].T; float dual[dual.Length - 1].T ],
      [ annEnergy / 1000.0; annEnergy / 1000.0 ],
      Name = $"ANN: {f2 (annEnergy / 1000.0)} nJ",
      LineDash = StyleParam.DrawingStyle.Dash
  )
  Chart.Line(
      dual |> Array.map (fun d -> float d.T),
      dual |> Array.map (fun d -> snnEnergy d.SopsPerImage d.FirstLayerMacsPerImage d.T / 1000.0),
      Name = "dual-phase SNN",
      ShowMarkers = true,
      MarkerSymbol = StyleParam.MarkerSymbol.Circle
  )
  Chart.Line(
      qcfs |> Array.map (fun q -> float q.T),
      qcfs |> Array.map (fun q -> annEnergy / q.EnergyRatio / 1000.0),
      Name = "QCFS SNN",
      ShowMarkers = true,
      LineDash = StyleParam.DrawingStyle.DashDot,
      MarkerSymbol = StyleParam.MarkerSymbol.Square
  ) ]
|> Chart.combine
|> Chart.withTitle "energy per image vs time steps"
|> Chart.withXAxisStyle (TitleText = "time steps T", AxisType = StyleParam.AxisType.Log)
|> Chart.withYAxisStyle (TitleText = "energy per image (nJ)")
|> Chart.withSize (800, 450)
|> show "03-energy-vs-T"

Show.table
    [ "T"; "dual-phase SOPs / image"; "QCFS SOPs / image"; "first-layer MACs / image / step"; "E_ANN / E_SNN dual-phase"; "E_ANN / E_SNN QCFS" ]
    [ for d in dual ->
          let q = qcfs |> Array.tryFind (fun q -> q.T = d.T)

          [ string d.T
            sci d.SopsPerImage
            (q |> Option.map (fun q -> sci q.SopsPerImage) |> Option.defaultValue "-")
            sci d.FirstLayerMacsPerImage
            f2 d.EnergyRatio
            (q |> Option.map (fun q -> f2 q.EnergyRatio) |> Option.defaultValue "-") ] ]

(**
## The accuracy-energy trade-off

Each point is one SNN at one T: further left is cheaper, higher is more accurate. The ANN is the
reference point at relative energy 1.
*)

let points name (xs: float seq) (ys: float seq) (labels: string seq) symbol =
    Chart.Point(xs, ys, Name = name, MultiText = labels, TextPosition = StyleParam.TextPosition.TopCenter, MarkerSymbol = symbol)

[ points "ANN" [ 1.0 ] [ results.Ann.TestAccuracy ] [ "ANN" ] StyleParam.MarkerSymbol.Star
  points
      "dual-phase SNN"
      (dual |> Array.map (fun d -> 1.0 / d.EnergyRatio))
      (dual |> Array.map (fun d -> d.Snn.Final))
      (dual |> Array.map (fun d -> $"T={d.T}"))
      StyleParam.MarkerSymbol.Circle
  points
      "QCFS SNN"
      (qcfs |> Array.map (fun q -> 1.0 / q.EnergyRatio))
      (qcfs |> Array.map (fun q -> q.TestAccuracy))
      (qcfs |> Array.map (fun q -> $"T={q.T}"))
      StyleParam.MarkerSymbol.Square ]
|> Chart.combine
|> Chart.withTitle "accuracy vs energy (relative to the ANN)"
|> Chart.withXAxisStyle (TitleText = "E_SNN / E_ANN")
|> Chart.withYAxisStyle (TitleText = "test accuracy (%)")
|> Chart.withSize (800, 450)
|> show "03-accuracy-vs-energy"

(**
## SOPs per layer against T

The Phase-I network fine-tuned at L = 2, converted and simulated on 256 test images for
T = 1, 2, 4 and 8. `SimulationResult.Layers` counts, for each layer, the SOPs its incoming spikes
cause (the input layer instead does analog MACs). Deep layers fire less, so most of the energy is
spent early in the network.
*)

let qcNet = run.Ann(Snn.Dsl.Pipeline.QcAnn 2)

let snn =
    match Snn.Dsl.Convert.toSpiking Snn.Dsl.ConversionOptions.Default qcNet with
    | Ok s -> s
    | Error es -> failwithf "%A" es

let images, labels = batches run _.Test 0 256 256 |> List.exactlyOne
let timeSteps = [ 1; 2; 4; 8 ]

let perLayer =
    [ for t in timeSteps do
          use scope = torch.NewDisposeScope()
          use result = snn.Run(images, t, SimulationOptions(Record = true))
          let n = float images.shape[0]

          yield
              t,
              // Every layer fed by spikes (not the input layer, which does analog MACs), even when
              // no spike reached it at this T.
              [ for l in result.Layers do
                    if l.AnalogOperations = 0.0 then
                        yield l.Name, l.SynapticOperations / n ] ]

let layerNames = perLayer |> List.head |> snd |> List.map fst

let accuracy (t: int) =
    use scope = torch.NewDisposeScope()
    use result = snn.Run(images, t)
    100.0 * result.Output.argmax(1L).eq(labels).to_type(torch.ScalarType.Float64).mean().item<float> ()

[ for t, layers in perLayer -> Chart.Column(layerNames, layers |> List.map snd, Name = $"T = {t}") ]
|> Chart.combine
|> Chart.withTitle "SOPs per image and layer"
|> Chart.withXAxisStyle (TitleText = "layer")
|> Chart.withYAxisStyle (TitleText = "SOPs per image")
|> Chart.withSize (800, 450)
|> show "03-sops-per-layer"

let symbols =
    [ StyleParam.MarkerSymbol.Circle; StyleParam.MarkerSymbol.Square; StyleParam.MarkerSymbol.Diamond
      StyleParam.MarkerSymbol.TriangleUp; StyleParam.MarkerSymbol.Cross; StyleParam.MarkerSymbol.X
      StyleParam.MarkerSymbol.Star; StyleParam.MarkerSymbol.TriangleDown ]

[ for i, name in List.indexed layerNames ->
      Chart.Line(
          perLayer |> List.map (fun (t, _) -> float t),
          perLayer |> List.map (fun (_, layers) -> energy.SopPicojoules * (layers |> List.find (fun (n, _) -> n = name) |> snd) / 1000.0),
          Name = name,
          ShowMarkers = true,
          MarkerSymbol = symbols[i % symbols.Length]
      ) ]
|> Chart.combine
|> Chart.withTitle "energy per image and layer vs T (0.9 pJ per SOP)"
|> Chart.withXAxisStyle (TitleText = "time steps T", AxisType = StyleParam.AxisType.Log)
|> Chart.withYAxisStyle (TitleText = "energy per image (nJ)")
|> Chart.withSize (800, 450)
|> show "03-energy-per-layer-vs-T"

Show.table
    ("T" :: "test accuracy, 256 images (%)" :: layerNames)
    [ for t, layers in perLayer -> string t :: f2 (accuracy t) :: (layers |> List.map (snd >> sci)) ]

snn.Dispose()
qcNet.Dispose()
images.Dispose()
labels.Dispose()
