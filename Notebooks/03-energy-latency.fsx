(**
# 03 · Energy and latency

An SNN replaces multiply-accumulates (MACs, 4.6 pJ each in 45 nm CMOS) by synaptic operations
(SOPs, 0.9 pJ): one per spike per outgoing synapse. Only the first layer, which receives the
analog image, still multiplies at every time step:

E_ANN = 4.6 pJ × MACs,  E_SNN = 0.9 pJ × SOPs + 4.6 pJ × T × first-layer MACs.

More time steps buy accuracy with energy. This notebook reads the numbers the run of
01-quickstart measured, then simulates the Phase-I network itself to split the SOPs by layer.
*)

#load "Setup.fsx"
open Setup
open TorchSharp
open Snn.Core.Energy
open Snn.Core.Simulation

let experiment, results = Quickstart.load ()
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

Show.chart (
    Chart.figure
        "03-energy-vs-T"
        "energy per image vs time steps"
        "time steps T"
        "energy per image (nJ)"
        true
        [ Chart.line "ANN" [ float dual[0].T; float dual[dual.Length - 1].T ] [ annEnergy / 1000.0; annEnergy / 1000.0 ] true
          Chart.line
              "dual-phase SNN"
              (dual |> Array.map (fun d -> float d.T))
              (dual |> Array.map (fun d -> snnEnergy d.SopsPerImage d.FirstLayerMacsPerImage d.T / 1000.0))
              false
          Chart.line
              "QCFS SNN"
              (qcfs |> Array.map (fun q -> float q.T))
              (qcfs |> Array.map (fun q -> annEnergy / q.EnergyRatio / 1000.0))
              false ]
)

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

Show.chart (
    Chart.figure
        "03-accuracy-vs-energy"
        "accuracy vs energy (relative to the ANN)"
        "E_SNN / E_ANN"
        "test accuracy (%)"
        false
        [ Chart.points "ANN" [ 1.0 ] [ results.Ann.TestAccuracy ] [ "ANN" ]
          Chart.points
              "dual-phase SNN"
              (dual |> Array.map (fun d -> 1.0 / d.EnergyRatio))
              (dual |> Array.map (fun d -> d.Snn.Final))
              (dual |> Array.map (fun d -> $"T={d.T}"))
          Chart.points
              "QCFS SNN"
              (qcfs |> Array.map (fun q -> 1.0 / q.EnergyRatio))
              (qcfs |> Array.map (fun q -> q.TestAccuracy))
              (qcfs |> Array.map (fun q -> $"T={q.T}")) ]
)

(**
## SOPs per layer against T

The Phase-I network fine-tuned at L = 2, converted and simulated on 256 test images for
T = 1, 2, 4 and 8. `SimulationResult.Layers` counts, for each layer, the SOPs its incoming spikes
cause (the input layer instead does analog MACs). Deep layers fire less, so most of the energy is
spent early in the network.
*)

let qcNet = Quickstart.fineTuned experiment 2
let snn = Quickstart.toSpiking qcNet
let images, labels = Quickstart.labelled (fun s -> s.Test) 0 256
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

Show.chart (
    Chart.figure
        "03-sops-per-layer"
        "SOPs per image and layer"
        "layer"
        "SOPs per image"
        false
        [ for t, layers in perLayer -> Chart.bars $"T = {t}" layerNames (layers |> List.map snd) ]
)

Show.chart (
    Chart.figure
        "03-energy-per-layer-vs-T"
        "energy per image and layer vs T (0.9 pJ per SOP)"
        "time steps T"
        "energy per image (nJ)"
        true
        [ for name in layerNames ->
              Chart.line
                  name
                  (perLayer |> List.map (fun (t, _) -> float t))
                  (perLayer |> List.map (fun (_, layers) -> energy.SopPicojoules * (layers |> List.find (fun (n, _) -> n = name) |> snd) / 1000.0))
                  false ]
)

Show.table
    ("T" :: "test accuracy, 256 images (%)" :: layerNames)
    [ for t, layers in perLayer -> string t :: f2 (Quickstart.accuracy snn t (images, labels)) :: (layers |> List.map (snd >> sci)) ]

snn.Dispose()
qcNet.Dispose()
