/// Phase II a / c (PAPER.md): v_l(0) += T * (E[a_l^ANN] - E[r_l^SNN]) per neuron, the
/// expectation over calibration images of the held-out split, with the earlier layers already
/// calibrated.
module Snn.Dsl.Pipeline.Steps.CalibratePotential

open Snn.Core.Calibration
open Snn.Dsl.Json
open Snn.Dsl.Pipeline

type Parameters =
    {
        /// The first n held-out images (the paper uses 1,024).
        CalibrationImages: int
        /// Images per simulated batch.
        BatchSize: int
    }

let defaults =
    { CalibrationImages = 1024
      BatchSize = 128 }

let definition: LayerStepDefinition<Parameters> =
    { Name = "calibratePotential"
      Operation = PotentialCalibration
      Parameters =
        Codec.record (fun n b -> { CalibrationImages = n; BatchSize = b })
        |> Codec.field "calibration_images" _.CalibrationImages Codec.int
        |> Codec.fieldOr "batch_size" _.BatchSize Codec.int 128
      Problems =
        fun p ->
            Declare.atLeast "calibration_images" 1 p.CalibrationImages
            @ Declare.inRange "batch_size" 1 65536 p.BatchSize
      CalibrationImages = fun p -> p.CalibrationImages
      EarlyStoppingImages = fun _ -> 0
      Prepare =
        fun p c ->
            let images = c.Data.HeldOutImages(0, p.CalibrationImages, p.BatchSize)

            { new ILayerCalibration with
                member _.CalibrateLayer l =
                    let shift =
                        PotentialCalibration.CalibrateLayer(c.Network, l, c.AnnActivations, images, c.TimeSteps)

                    let name = c.Network.Layers[c.Network.NeuronLayers[l]].Name
                    c.Log $"T={c.TimeSteps} {name}: potential calibration, mean |dv(0)| = %.4g{shift}"

                member _.Dispose() = () } }

/// Potential calibration on this many held-out images.
let step images =
    LayerStep.create
        definition
        { defaults with
            CalibrationImages = images }
