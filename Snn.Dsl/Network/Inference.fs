namespace Snn.Dsl

/// Shape inference of single layers: output shapes, parameter counts and size problems
/// (Validation.fs's `Network` module checks whole specs and re-exports what callers need).
[<RequireQualifiedAccess>]
module Inference =

    let private convOut size kernel stride padding =
        (size + 2 * padding - kernel) / stride + 1

    /// The extent of a conv's window on the input: d * (k - 1) + 1 for kernel k and dilation d.
    let dilatedKernel (c: Conv) = c.Dilation * (c.Kernel - 1) + 1

    /// Parameters of a conv: out * (in / groups) * k * k (+ out for the bias).
    let convParameters inChannels (c: Conv) =
        int64 c.OutChannels
        * int64 (inChannels / max 1 c.Groups)
        * int64 c.Kernel
        * int64 c.Kernel
        + (if c.Bias then int64 c.OutChannels else 0L)

    /// The layers a residual block is made of, in execution order, as plain layers:
    /// body (conv1, bn1, act1, conv2, bn2) and shortcut (empty = identity, else conv, bn).
    let residualParts inChannels (r: Residual) =
        let conv3 stride =
            { OutChannels = r.OutChannels
              Kernel = 3
              Stride = stride
              Padding = 1
              Dilation = 1
              Groups = 1
              Bias = not r.BatchNorm
              InChannels = None }

        let bn = if r.BatchNorm then [ BatchNorm ] else []

        let body = [ Conv(conv3 r.Stride) ] @ bn @ [ Act; Conv(conv3 1) ] @ bn

        let projection =
            match r.Shortcut with
            | Projection -> true
            | Identity -> false
            | Auto -> r.Stride <> 1 || inChannels <> r.OutChannels

        let shortcut =
            if projection then
                [ Conv
                      { OutChannels = r.OutChannels
                        Kernel = 1
                        Stride = r.Stride
                        Padding = 0
                        Dilation = 1
                        Groups = 1
                        Bias = not r.BatchNorm
                        InChannels = None } ]
                @ bn
            else
                []

        body, shortcut

    /// The problems of a layer's own size fields (positive sizes, padding >= 0, pool padding at
    /// most half the window, dropout p in [0, 1)), independent of its input.
    let sizeErrors (layer: Layer) =
        let positive what v =
            if v > 0 then [] else [ NonPositive(what, v) ]

        let nonNegative v =
            if v >= 0 then [] else [ NegativePadding v ]

        match layer with
        | Conv c ->
            positive "out-channels" c.OutChannels
            @ positive "kernel" c.Kernel
            @ positive "stride" c.Stride
            @ nonNegative c.Padding
            @ positive "dilation" c.Dilation
            @ positive "groups" c.Groups
            @ (c.InChannels |> Option.map (positive "in-channels") |> Option.defaultValue [])
        | AvgPool p
        | MaxPool p ->
            positive "kernel" p.Kernel
            @ positive "stride" p.Stride
            @ nonNegative p.Padding
            @ (if p.Kernel > 0 && p.Padding > p.Kernel / 2 then
                   [ PaddingTooLarge(p.Padding, p.Kernel) ]
               else
                   [])
        | Linear l ->
            positive "out-features" l.OutFeatures
            @ (l.InFeatures |> Option.map (positive "in-features") |> Option.defaultValue [])
        | Dropout p -> if p >= 0.0 && p < 1.0 then [] else [ DropoutOutOfRange p ]
        | Residual r -> positive "out-channels" r.OutChannels @ positive "stride" r.Stride
        | BatchNorm
        | Act
        | GlobalAvgPool
        | Flatten -> []

    /// Output shape of a window op (conv or pool) on an image, or the problem.
    let private window (input: Shape) kernel stride padding (outChannels: int option) =
        match input with
        | Vector _ -> Error(ExpectedImage input)
        | Image(c, h, w) ->
            let ph, pw = h + 2 * padding, w + 2 * padding

            if kernel > ph || kernel > pw then
                Error(KernelLargerThanInput(kernel, ph, pw))
            else
                Ok(Image(defaultArg outChannels c, convOut h kernel stride padding, convOut w kernel stride padding))

    /// Infers one layer's output shape (when its size fields are valid), its parameter count,
    /// and its shape problems. `None` output means the shape is unknown after an error.
    /// Notes: facts that are not errors (e.g. a pooling that drops a row).
    let rec infer (layer: Layer) (input: Shape) : Shape option * int64 * Problem list * string list =
        let fromResult r params' =
            match r with
            | Ok s -> Some s, params', [], []
            | Error p -> None, 0L, [ p ], []

        match layer with
        | Conv c ->
            match input with
            | Image(ch, _, _) ->
                let declared =
                    match c.InChannels with
                    | Some d when d <> ch -> [ InChannelsMismatch(d, ch) ]
                    | _ -> []

                let grouping =
                    if ch % c.Groups <> 0 || c.OutChannels % c.Groups <> 0 then
                        [ GroupsDoNotDivide(c.Groups, ch, c.OutChannels) ]
                    else
                        []

                let s, n, ps, notes =
                    fromResult
                        (window input (dilatedKernel c) c.Stride c.Padding (Some c.OutChannels))
                        (convParameters ch c)

                s, n, declared @ grouping @ ps, notes
            | Vector _ -> None, 0L, [ ExpectedImage input ], []
        | AvgPool p
        | MaxPool p ->
            let s, n, ps, _ = fromResult (window input p.Kernel p.Stride p.Padding None) 0L

            let notes =
                match input, s with
                | Image(_, h, w), Some(Image(_, oh, ow)) when
                    (h + 2 * p.Padding - p.Kernel) % p.Stride <> 0
                    || (w + 2 * p.Padding - p.Kernel) % p.Stride <> 0
                    ->
                    [ $"%s{layer.Description} on %d{h}x%d{w} drops the last row/column (floor): output %d{oh}x%d{ow}" ]
                | _ -> []

            s, n, ps, notes
        | GlobalAvgPool ->
            match input with
            | Image(c, _, _) -> Some(Image(c, 1, 1)), 0L, [], []
            | Vector _ -> None, 0L, [ ExpectedImage input ], []
        | BatchNorm ->
            match input with
            | Image(c, _, _)
            | Vector c -> Some input, 2L * int64 c, [], []
        | Act
        | Dropout _ -> Some input, 0L, [], []
        | Flatten ->
            match input with
            | Image(c, h, w) -> Some(Vector(c * h * w)), 0L, [], []
            | Vector _ -> None, 0L, [ ExpectedImage input ], []
        | Linear l ->
            match input with
            | Vector n ->
                let declared =
                    match l.InFeatures with
                    | Some d when d <> n -> [ InFeaturesMismatch(d, n) ]
                    | _ -> []

                let ps =
                    int64 n * int64 l.OutFeatures + (if l.Bias then int64 l.OutFeatures else 0L)

                Some(Vector l.OutFeatures), ps, declared, []
            | Image _ ->
                // The output shape is still known, so later layers are checked too.
                Some(Vector l.OutFeatures), 0L, [ FlattenMissing input ], []
        | Residual r ->
            match input with
            | Vector _ -> None, 0L, [ ExpectedImage input ], []
            | Image(ch, _, _) ->
                let body, shortcut = residualParts ch r

                let run parts =
                    parts
                    |> List.fold
                        (fun (shape, total, problems) part ->
                            match shape with
                            | None -> None, total, problems
                            | Some s ->
                                let s', n, ps, _ = infer part s
                                s', total + n, problems @ ps)
                        (Some input, 0L, [])

                let bodyOut, bodyParams, bodyProblems = run body
                let shortOut, shortParams, shortProblems = run shortcut

                let mismatch =
                    match bodyOut, shortOut with
                    | Some b, Some s when b <> s -> [ ResidualShapeMismatch(input, b) ]
                    | _ -> []

                // The body's output stays known after a shortcut mismatch, so checking goes on.
                bodyOut, bodyParams + shortParams, List.distinct (bodyProblems @ shortProblems) @ mismatch, []

    /// The convolutions and hidden linear layers (every linear but the last layer) without a bias,
    /// with their indices: the layers whose synapse has no bias to fold an affine map into.
    let biaslessLayers (spec: NetworkSpec) : (int * Layer) list =
        let last = spec.Layers.Length - 1

        spec.Layers
        |> List.indexed
        |> List.filter (fun (n, layer) ->
            match layer with
            | Conv c -> not c.Bias
            | Linear l -> not l.Bias && n < last
            | _ -> false)

    /// The output shape of one layer on this input, or its size and shape problems (the
    /// order rules, e.g. bn after a conv, are checked by `validate` only).
    let layerOutput (layer: Layer) (input: Shape) : Result<Shape, Problem list> =
        match sizeErrors layer with
        | [] ->
            match infer layer input with
            | Some s, _, [], _ -> Ok s
            | _, _, ps, _ -> Error ps
        | ps -> Error ps
