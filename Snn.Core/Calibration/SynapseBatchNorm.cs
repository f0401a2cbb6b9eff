using Snn.Core.Native;
using Snn.Core.Simulation;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Snn.Core.Calibration;

/// <summary>
/// Batch normalisation of one synapse's current I while the whole spiking network is fine-tuned, folded back into
/// the synapse afterwards (statistics over time and batch together, as threshold-dependent batch normalisation does:
/// Zheng et al., AAAI 2021). I is [N, C] or [N, C, H, W] with N = T x B for a spiking input (B for the image input);
/// every statistic is per channel c, over every dimension but 1.
/// <para>
/// Training: y = gamma (I - mu_B) / sqrt(var_B + eps) + beta with the batch's mean mu_B and biased variance var_B, and the
/// running statistics move as mu &lt;- (1 - m) mu + m mu_B, var &lt;- (1 - m) var + m var_B n / (n - 1) (n values per
/// channel; torch's BatchNorm). Evaluation: y = s I + beta - s mu with s = gamma / sqrt(var + eps), an affine map per
/// channel, which <see cref="Fold"/> writes into the synapse as W' = s W, b' = s (b - mu) + beta (s scales output channel c
/// of W, so pooling or flattening before the synapse is unaffected).
/// </para>
/// <para>
/// It starts unset, the identity in both modes. The first training batch sets mu = mu_B, var = var_B,
/// gamma = sqrt(var_B + eps) and beta = mu_B, so y = I on that batch and in evaluation: the fine-tune starts from the
/// network as it was, and only the batch statistics of later batches (and the training) move it.
/// </para>
/// </summary>
internal sealed class SynapseBatchNorm : IDisposable
{
    /// <summary>m, torch's default.</summary>
    public const double Momentum = 0.1;

    /// <summary>eps, torch's default.</summary>
    public const double Epsilon = 1e-5;

    private readonly Tensor runningMean;
    private readonly Tensor runningVariance;
    private bool set;

    /// <param name="channels">C &gt;= 1: the synapse's output channels (or features).</param>
    /// <param name="device">Where the synapse's weight is.</param>
    public SynapseBatchNorm(long channels, Device device)
    {
        Gamma = new Parameter(torch.ones(channels, float32, device), true);
        Beta = new Parameter(torch.zeros(channels, float32, device), true);
        runningMean = torch.zeros(channels, float32, device);
        runningVariance = torch.ones(channels, float32, device);
    }

    /// <summary>gamma [C], trained.</summary>
    public Parameter Gamma { get; }

    /// <summary>beta [C], trained.</summary>
    public Parameter Beta { get; }

    /// <summary>The running mean and variance [C] (state to snapshot with the parameters, not trained).</summary>
    public IEnumerable<Tensor> Buffers => [runningMean, runningVariance];

    /// <summary>y for the current I: batch statistics when training (the first batch sets the start), else the running ones.</summary>
    public Tensor Apply(Tensor current, bool training)
    {
        if (!training)
        {
            return set ? Affine(current) : current;
        }

        var dims = Dims(current);
        var mean = current.mean(dims);
        var variance = current.var(dims, unbiased: false);
        if (!set)
        {
            Start(mean, variance);
        }
        else
        {
            Track(mean, variance, current.numel() / current.shape[1]);
        }

        var scale = Gamma.div(variance.add(Epsilon).sqrt());
        return current.sub(Channelwise(mean, current)).mul(Channelwise(scale, current))
            .add(Channelwise(Beta, current), Scalars.One);
    }

    /// <summary>The synapse's weight and bias with the evaluation-mode map folded in: (s W, s (b - mu) + beta).</summary>
    public (Tensor Weight, Tensor Bias) Fold(Tensor weight, Tensor bias)
    {
        using var noGrad = no_grad();
        if (!set)
        {
            return (weight.clone(), bias.clone());
        }

        var scale = Scale();
        var shape = new long[weight.dim()];
        Array.Fill(shape, 1L);
        shape[0] = -1;
        return (weight.mul(scale.view(shape)), bias.sub(runningMean).mul(scale).add(Beta, Scalars.One));
    }

    public void Dispose()
    {
        Gamma.Dispose();
        Beta.Dispose();
        runningMean.Dispose();
        runningVariance.Dispose();
    }

    private Tensor Scale() => Gamma.div(runningVariance.add(Epsilon).sqrt());

    private Tensor Affine(Tensor current)
    {
        var scale = Scale();
        return current.mul(Channelwise(scale, current)).add(Channelwise(Beta.sub(runningMean.mul(scale)), current), Scalars.One);
    }

    private void Start(Tensor mean, Tensor variance)
    {
        using var noGrad = no_grad();
        runningMean.copy_(mean);
        runningVariance.copy_(variance);
        Gamma.copy_(variance.add(Epsilon).sqrt());
        Beta.copy_(mean);
        set = true;
    }

    private void Track(Tensor mean, Tensor variance, long n)
    {
        using var noGrad = no_grad();
        var unbiased = variance.mul(n / Math.Max(1.0, n - 1.0));
        runningMean.mul_(1 - Momentum).add_(mean, Momentum);
        runningVariance.mul_(1 - Momentum).add_(unbiased, Momentum);
    }

    private static long[] Dims(Tensor current) =>
        Enumerable.Range(0, (int)current.dim()).Where(d => d != 1).Select(d => (long)d).ToArray();

    /// <summary>A per-channel [C] tensor shaped to broadcast along dimension 1 of <paramref name="like"/>.</summary>
    private static Tensor Channelwise(Tensor perChannel, Tensor like)
    {
        var shape = new long[like.dim()];
        Array.Fill(shape, 1L);
        shape[1] = -1;
        return perChannel.view(shape);
    }
}
