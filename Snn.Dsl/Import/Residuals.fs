/// Two branches joined by an Add, then an activation, as the DSL's residual block:
/// body conv3x3(stride s, pad 1)-[bn]-act-conv3x3(pad 1)-[bn], shortcut identity or
/// conv1x1(stride s)-[bn], then the activation. Anything else is refused with both branches named.
module internal Snn.Dsl.Import.Residuals

open Snn.Dsl

let private describe (parts: Part list) =
    if parts.IsEmpty then
        "identity"
    else
        parts |> List.map _.Layer.Description |> String.concat " -> "

/// The expected form, for messages.
let expected =
    "the DSL's residual block is conv 3x3 (stride s, pad 1) [-> bn] -> act -> conv 3x3 (stride 1, pad 1) [-> bn] on one branch, the identity or conv 1x1 (stride s, pad 0) [-> bn] on the other (bn on both or neither), joined by Add and followed by Relu or Clip(0, m)"

let private param name (p: Part) =
    p.Params |> List.tryFind (fun (n, _) -> n = name) |> Option.map snd

/// A conv of the block as the DSL builds it (bias = not batchNorm); a conv bias before a bn is
/// absorbed into the bn's running mean (bn(z + b) with mean mu = bn(z) with mean mu - b), a conv
/// without bias in a block without bn gets a zero bias.
let private conform (batchNorm: bool) (conv: Part) (bn: Part option) : Part list =
    match conv.Layer with
    | Conv c ->
        let c' =
            { c with
                Bias = not batchNorm
                InChannels = None }

        let w = (param "weight" conv).Value
        let bias = param "bias" conv

        match bn with
        | Some bnPart ->
            let mean = (param "running_mean" bnPart).Value

            let mean' =
                match bias with
                | Some b ->
                    { mean with
                        Data = Array.map2 (-) mean.Data b.Data }
                | None -> mean

            let bnParams =
                bnPart.Params
                |> List.map (fun (n, v) -> if n = "running_mean" then n, mean' else n, v)

            [ { conv with
                  Layer = Conv c'
                  Params = [ "weight", w ] }
              { bnPart with Params = bnParams } ]
        | None ->
            let b =
                bias
                |> Option.defaultValue
                    { Shape = [| int64 c.OutChannels |]
                      Data = Array.zeroCreate c.OutChannels }

            [ { conv with
                  Layer = Conv c'
                  Params = [ "weight", w; "bias", b ] } ]
    | _ -> [ conv ]

let private isConv kernel stride padding (p: Part) =
    match p.Layer with
    | Conv c ->
        c.Kernel = kernel
        && c.Stride = stride
        && c.Padding = padding
        && c.Dilation = 1
        && c.Groups = 1
    | _ -> false

let private outChannels (p: Part) =
    match p.Layer with
    | Conv c -> c.OutChannels
    | _ -> -1

/// The block for body and shortcut parts (in execution order) and the activation after the Add,
/// or the reason it does not match.
let assemble
    (inChannels: int)
    (body: Part list)
    (shortcut: Part list)
    (act2: Part)
    (join: Node)
    : Result<Item, string> =
    let stride =
        match body with
        | first :: _ ->
            match first.Layer with
            | Conv c -> c.Stride
            | _ -> 0
        | [] -> 0

    let bodyForm =
        match body with
        | [ c1; b1; a1; c2; b2 ] when b1.Layer = BatchNorm && b2.Layer = BatchNorm && a1.Layer = Act ->
            Some(true, c1, Some b1, a1, c2, Some b2)
        | [ c1; a1; c2 ] when a1.Layer = Act -> Some(false, c1, None, a1, c2, None)
        | _ -> None

    let fail () =
        Error $"the branches joined here are [%s{describe body}] and [%s{describe shortcut}]: %s{expected}"

    match bodyForm with
    | Some(bn, c1, b1, a1, c2, b2) when isConv 3 stride 1 c1 && isConv 3 1 1 c2 && outChannels c1 = outChannels c2 ->
        let out = outChannels c1

        let shortcutForm =
            match shortcut with
            | [] when stride = 1 && inChannels = out -> Some(Identity, [])
            | [ p ] when not bn && isConv 1 stride 0 p && outChannels p = out -> Some(Projection, conform false p None)
            | [ p; pb ] when bn && pb.Layer = BatchNorm && isConv 1 stride 0 p && outChannels p = out ->
                Some(Projection, conform true p (Some pb))
            | _ -> None

        match shortcutForm with
        | Some(kind, shortcutParts) ->
            let r =
                { OutChannels = out
                  Stride = stride
                  Shortcut = kind
                  BatchNorm = bn }

            let parts = conform bn c1 b1 @ [ a1 ] @ conform bn c2 b2 @ shortcutParts @ [ act2 ]
            Ok(Block(r, parts, join))
        | None -> fail ()
    | _ -> fail ()
