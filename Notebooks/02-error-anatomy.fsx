(**
# 02 · Error anatomy: where an SNN loses accuracy, and how the dual-phase method gets it back

A converted SNN layer outputs the spike rate r = (1/T) Σ θ s(t) where the ANN outputs ReLU(z), with
z = (1/T) Σ I(t) the mean input current. PAPER.md splits the gap exactly:

r − ReLU(z) = [r − QC_T(z)] (residual-potential error) + [QC_T(z) − clip(z)] (quantization) + [clip(z) − ReLU(z)] (clipping)

and the soft-reset neuron obeys the identity r = z + (v(0) − v(T)) / T. First one neuron by hand,
then one trained network layer by layer. This notebook reuses the run of 01-quickstart.
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
open Snn.Core.Neurons
open Snn.Core.Errors
open Snn.Core.Calibration
open Snn.Core.Simulation

(**
## One neuron by hand

θ = 1 and T = 4. For each input sequence the table gives z, the rate r, the final potential v(T),
the quantize-clip value QC_T(z) and the residual error r − QC_T(z), with v(0) = 0 and with the
paper's v(0) = θ/2. A **negative** v(T) means the neuron fired early and then received
inhibition it could not "un-fire"; a v(T) **≥ θ** means charge arrived too late to fire. Either
leaves a residual error that no choice of quantization removes.
*)

let theta = 1.0
let T = 4

let sequences =
    [ "steady 0.4", [| 0.4; 0.4; 0.4; 0.4 |]
      "steady 0.9", [| 0.9; 0.9; 0.9; 0.9 |]
      "early burst, then inhibition", [| 1.2; -0.6; -0.6; 0.2 |]
      "late burst", [| 0.0; 0.0; 0.0; 2.0 |] ]

let qc (z: float) (t: int) =
    use zt = torch.tensor [| z |]
    use q = Snn.Core.Activations.QuantizeClipActivation.Functional.QuantizeClip(zt, torch.tensor theta, t)
    q.item<float> ()

let neuronRows =
    [ for name, currents in sequences do
          for v0 in [ 0.0; theta / 2.0 ] do
              let run = ScalarIfNeuron.Run(currents, theta, v0)
              let z = Array.average currents
              let r = float run.Spikes * theta / float T
              let q = qc z T

              [ name
                f2 v0
                f2 z
                f2 r
                f2 run.FinalPotential
                f2 q
                f2 (r - q)
                f2 (z + (v0 - run.FinalPotential) / float T) ] ]

Show.table [ "input"; "v(0)"; "z"; "r"; "v(T)"; "QC_T(z)"; "r - QC_T(z)"; "z + (v(0)-v(T))/T" ] neuronRows

(**
For a constant input the neuron fires ⌊(T z + v(0)) / θ⌋ times: with v(0) = 0 that is a floor,
which under-estimates every z; v(0) = θ/2 turns it into rounding, so r = QC_T(z) exactly and the
residual error of steady inputs vanishes. The chart shows r against a constant z for both.
*)

let zs = [ for k in 0..120 -> float k / 100.0 ]

let rateOf v0 z =
    float (ScalarIfNeuron.Run(Array.create T z, theta, v0).Spikes) * theta / float T

[ Chart.Line(zs, zs |> List.map (fun z -> min z theta), Name = "clip(z)", LineDash = StyleParam.DrawingStyle.Dash)
  Chart.Line(zs, zs |> List.map (rateOf 0.0), Name = "r with v(0) = 0", LineDash = StyleParam.DrawingStyle.Dot)
  Chart.Line(zs, zs |> List.map (rateOf (theta / 2.0)), Name = "r with v(0) = theta/2 (= QC_T(z))") ]
|> Chart.combine
|> Chart.withTitle $"one IF neuron, theta = 1, T = {T}: rate vs constant input"
|> Chart.withXAxisStyle (TitleText = "z")
|> Chart.withYAxisStyle (TitleText = "r")
|> Chart.withSize (800, 450)
|> show "02-neuron-rate"

(**
## A trained network, layer by layer

The Phase-I network of 01-quickstart fine-tuned at L = 2, converted and simulated for T = 2 on
256 test images. `SimulationOptions(Record = true)` keeps z, r, v(0), v(T) and θ of every layer.
*)

let run = quickstartRun ()
let steps = 2
let qcNet = run.Ann(Snn.Dsl.Pipeline.QcAnn 2)

let snn =
    match Snn.Dsl.Convert.toSpiking Snn.Dsl.ConversionOptions.Default qcNet with
    | Ok s -> s
    | Error es -> failwithf "%A" es

let ann = Snn.Dsl.Convert.annActivations qcNet
let test = batches run _.Test 0 256 256 |> List.exactlyOne
let images (split: Snn.Core.Data.DataSplits -> Snn.Core.Data.ImageDataset) start count =
    batches run split start count count
    |> List.map (fun (x, y: torch.Tensor) ->
        y.Dispose()
        x)
    |> Array.ofList
let calibration = images _.HeldOut 0 128
let stopping = images _.HeldOut 128 64

let layerNames =
    snn.NeuronLayers |> Seq.map (fun i -> snn.Layers[i].Name) |> List.ofSeq

/// Per layer: the three error terms' mean |.|, with the recorded z, r and v(T)/theta of `net`.
let anatomy (net: SpikingNetwork) =
    use scope = torch.NewDisposeScope()
    use result = net.Run(fst test, steps, SimulationOptions(Record = true))

    [ for layer in result.Layers do
          if not (isNull layer.Rate) then
              use terms = ErrorDecomposition.Decompose(layer.MeanInput, layer.Rate, layer.Threshold, steps)
              let mean (x: torch.Tensor) = x.abs().mean().item<float> ()
              let values (x: torch.Tensor) = x.flatten().to_type(torch.ScalarType.Float64).data<float>().ToArray()

              yield
                  {| Name = layer.Name
                     Residual = mean terms.Residual
                     Quantization = mean terms.Quantization
                     Clipping = mean terms.Clipping
                     Z = values (layer.MeanInput / layer.Threshold)
                     R = values (layer.Rate / layer.Threshold)
                     V = values (layer.FinalPotential / layer.Threshold) |} ]

let accuracy (net: SpikingNetwork) =
    use scope = torch.NewDisposeScope()
    use result = net.Run(fst test, steps)
    100.0 * result.Output.argmax(1L).eq(snd test).to_type(torch.ScalarType.Float64).mean().item<float> ()

let phase1 = anatomy snn

(**
### Distributions in one layer

z/θ, r/θ and v(T)/θ of the second convolution's neurons (Phase I). r takes only T + 1 values;
v(T)/θ outside [0, 1) is where the residual error comes from.
*)

let shown = phase1[1]

// Counted here in 60 bins over [-1, 2] (values outside at the edges): a chart of the raw values
// (neurons x images, millions of numbers) would carry them all into the notebook.
let binned (values: float[]) =
    let bins, low, high = 60, -1.0, 2.0
    let width = (high - low) / float bins
    let counts = Array.zeroCreate<int> bins

    for v in values do
        let i = int ((v - low) / width) |> max 0 |> min (bins - 1)
        counts[i] <- counts[i] + 1

    Array.init bins (fun i -> low + (float i + 0.5) * width), counts

[ for name, values in [ "z / theta", shown.Z; "r / theta", shown.R; "v(T) / theta", shown.V ] ->
      let centres, counts = binned values
      Chart.Column(centres, counts, Name = name, Opacity = 0.6) ]
|> Chart.combine
|> Chart.withTitle $"layer {shown.Name}, T = {steps}: neurons x images (values outside [-1, 2] at the edges)"
|> Chart.withXAxisStyle (TitleText = "value / theta")
|> Chart.withYAxisStyle (TitleText = "count")
|> Chart.withLayout (Layout.init (BarMode = StyleParam.BarMode.Overlay))
|> Chart.withSize (800, 450)
|> show "02-distributions"

(**
### The three error terms per layer, and what Phase II does to them

Mean |error| per layer for the converted Phase-I network, after potential calibration
(PotentialCalibration shifts v(0) so that the mean residual of each layer vanishes), and after
weight calibration on top (WeightCalibration fits each layer's synapses and v(0) to the ANN's
activations). Quantization and clipping depend only on z, so they move only through z.
*)

let withPotential = snn.Clone()
PotentialCalibration.CalibrateAll(withPotential, ann, calibration, steps) |> ignore

let withWeights = snn.Clone()

PhaseTwo.Calibrate(withWeights, ann, calibration, stopping, steps, PhaseTwoStages.All, CalibrationOptions(MaxEpochs = 1))
|> ignore

let stages =
    [ "Phase I", phase1, accuracy snn
      "+ potential calibration", anatomy withPotential, accuracy withPotential
      "dual-phase (potential, weights, potential)", anatomy withWeights, accuracy withWeights ]

[ for name, layers, _ in stages -> Chart.Column(layerNames, layers |> List.map (fun l -> l.Residual), Name = name) ]
|> Chart.combine
|> Chart.withTitle $"mean |residual error| per layer, T = {steps}"
|> Chart.withXAxisStyle (TitleText = "layer")
|> Chart.withYAxisStyle (TitleText = "mean |r - QC_T(z)|")
|> Chart.withSize (800, 450)
|> show "02-residual-per-layer"

Show.table
    [ "stage"; "layer"; "|residual|"; "|quantization|"; "|clipping|" ]
    [ for name, layers, _ in stages do
          for l in layers -> [ name; l.Name; f2 (1000.0 * l.Residual) + "e-3"; f2 (1000.0 * l.Quantization) + "e-3"; f2 (1000.0 * l.Clipping) + "e-3" ] ]

// ----

Show.table [ "stage"; "test accuracy on these 256 images (%)" ] [ for name, _, acc in stages -> [ name; f2 acc ] ]

for net in [ withWeights; withPotential; snn ] do
    net.Dispose()

qcNet.Dispose()

for x, y in [ test ] do
    x.Dispose()
    y.Dispose()
