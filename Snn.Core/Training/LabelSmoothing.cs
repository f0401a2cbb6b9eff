using static TorchSharp.torch;

namespace Snn.Core.Training;

/// <summary>
/// Label smoothing (Szegedy et al., "Rethinking the Inception Architecture for Computer Vision",
/// CVPR 2016): the cross-entropy against the target q = (1 - eps) onehot(y) + eps / K instead of
/// onehot(y), so L = -(1/B) sum_i sum_k q_ik log softmax(s_i)_k
/// = (1 - eps) CE(s, y) + eps (1/B) sum_i (-(1/K) sum_k log softmax(s_i)_k),
/// with s the logits [B, K]. eps = 0 is plain cross-entropy.
/// </summary>
public static class LabelSmoothing
{
    /// <summary>The smoothed cross-entropy of one batch (scalar, the mean over the batch).</summary>
    /// <param name="logits">Logits [B, K], K &gt;= 1.</param>
    /// <param name="labels">Classes [B] (int64, in [0, K)).</param>
    /// <param name="epsilon">eps, in [0, 1): the share of the target spread evenly over the K classes.</param>
    /// <returns>L &gt;= 0 as above.</returns>
    public static Tensor Loss(Tensor logits, Tensor labels, double epsilon)
    {
        Check(epsilon);
        if (logits.dim() != 2)
        {
            throw new ArgumentException($"logits have {logits.dim()} dimensions: expected [B, K]", nameof(logits));
        }

        using var scope = NewDisposeScope();
        var logP = logits.log_softmax(1);
        var hard = -logP.gather(1, labels.unsqueeze(1)).squeeze(1).mean();
        var uniform = -logP.mean(new long[] { 1 }).mean();
        return (hard * (1 - epsilon) + uniform * epsilon).MoveToOuterDisposeScope();
    }

    /// <summary>The smoothed cross-entropy as a <see cref="TrainingLoss"/> (the images are not used).</summary>
    /// <param name="epsilon">eps, in [0, 1).</param>
    public static TrainingLoss Objective(double epsilon)
    {
        Check(epsilon);
        return (_, logits, labels) => Loss(logits, labels, epsilon);
    }

    private static void Check(double epsilon)
    {
        if (!(epsilon >= 0 && epsilon < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "label smoothing epsilon must be in [0, 1)");
        }
    }
}
