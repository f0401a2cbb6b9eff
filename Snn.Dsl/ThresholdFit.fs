/// Thresholds to start a quantize-clip fine-tune from (Phase I step 3). The fine-tune starts from
/// a copy of the clip network; copying the clip thresholds theta_l too is PAPER.md's start. At
/// small L that start is poor: at L = 1, QC_1(z) = theta [z >= theta / 2], and with the clip
/// thresholds most units fall below theta / 2. Fitting theta_l instead, layer by layer, so that
/// QC_L(z_l; theta_l) is closest in mean square to the clip network's activation, gives the
/// fine-tune a start whose output is already close to the clip network's; the fine-tune itself is
/// unchanged.
module Snn.Dsl.ThresholdFit

open System
open TorchSharp
open Snn.Core.Activations

/// One layer's fit.
type LayerFit =
    {
        Layer: string
        /// |theta| copied from the clip network.
        ClipThreshold: float
        /// |theta| chosen by the fit.
        Threshold: float
        /// mean (QC_L(z; theta) - a)^2 with the copied and with the fitted theta.
        CopiedError: float
        FittedError: float
    }

/// Candidate ratios theta / theta_clip: 1 (the copied threshold, so the fit never does worse than
/// the copy) and 64 points geometrically spaced over [1/32, 3/2] (neighbours 6.4 % apart).
let ratios =
    let lo, hi, n = log (1.0 / 32.0), log 1.5, 64
    1.0 :: [ for k in 0 .. n - 1 -> exp (lo + (hi - lo) * float k / float (n - 1)) ]

/// mean over all elements of (QC_L(z; theta) - a)^2, with QC_L in float32 in the order of
/// QuantizeClipActivation.Functional.QuantizeClip (r = z / theta, floor(r L + 1/2) / L, clip to
/// [0, 1], times theta) and the sum in float64. Plain arrays: the grid search allocates nothing.
let private meanSquare (z: float32[]) (a: float32[]) (levels: int) (theta: float) =
    let t = float32 theta
    let l = float32 levels
    let chunk = 1 <<< 16
    let chunks = (z.Length + chunk - 1) / chunk
    let sums = Array.zeroCreate<float> chunks

    Threading.Tasks.Parallel.For(
        0,
        chunks,
        fun c ->
            let mutable s = 0.0

            for i in c * chunk .. min z.Length ((c + 1) * chunk) - 1 do
                let level = MathF.Floor((z[i] / t) * l + 0.5f) / l

                let level =
                    if level < 0.0f then 0.0f
                    elif level > 1.0f then 1.0f
                    else level

                let d = float (t * level - a[i])
                s <- s + d * d

            sums[c] <- s
    )
    |> ignore

    Array.sum sums / float (max 1 z.Length)

/// For each QC activation of `qc` in execution order, sets |theta_l| to the ratio from `ratios`
/// times the clip network's |theta_l| that minimises mean (QC_L(z_l; theta) - a_l)^2 over
/// `images`, where a_l is the clip network's activation and z_l the input of layer l in `qc`
/// with every earlier layer already at its fitted theta (so later layers also absorb earlier
/// layers' quantization). `clip` and `qc` must be the same spec with the same weights (e.g.
/// `Compile.withActivation`). Runs in evaluation mode without gradients; returns one record per
/// layer.
let fit (clip: CompiledNetwork) (qc: CompiledNetwork) (images: torch.Tensor) : LayerFit list =
    if clip.Info.Spec <> qc.Info.Spec then
        invalidArg "qc" "the QC network and the clip network must compile the same spec"

    let clipLayers = Compile.activations clip
    let qcLayers = Compile.activations qc

    if clipLayers.Length <> qcLayers.Length then
        invalidArg "qc" $"expected {clipLayers.Length} activation layers, got {qcLayers.Length}"

    use _ = torch.no_grad ()
    clip.eval ()
    qc.eval ()
    use scope = torch.NewDisposeScope()
    let targets = (Convert.annActivations clip).Invoke images
    let fits = Collections.Generic.List<LayerFit>()

    Convert.forwardThroughActivations
        qc
        (fun l z ->
            let k = fits.Count

            match l.Module, clipLayers[k].Module with
            | (:? QuantizeClipActivation as q), (:? ClipActivation as c) ->
                let thetaClip = c.EffectiveThreshold

                let values (x: torch.Tensor) =
                    x.cpu().contiguous().data<float32>().ToArray()

                let err = meanSquare (values z) (values targets[k]) q.Levels

                let best = ratios |> List.map (fun r -> thetaClip * r) |> List.minBy err

                q.Threshold.fill_ (float32 best) |> ignore

                fits.Add
                    { Layer = l.Name
                      ClipThreshold = thetaClip
                      Threshold = best
                      CopiedError = err thetaClip
                      FittedError = err best }

                l.Module.forward z
            | m, c ->
                invalidArg
                    "qc"
                    $"layer {l.Name}: expected a QC activation fitted to a clip activation, got {m.GetType().Name} and {c.GetType().Name}")
        images
    |> ignore

    List.ofSeq fits
