namespace MLNetDeep.Regularization;

/// <summary>Penalties and constraints applied during training (never during scoring).</summary>
public sealed class RegularizationOptions
{
    /// <summary>
    /// Coupled L2 penalty on weights (not biases or batch-norm parameters): λ·w is added to each weight's
    /// gradient before the optimizer step, i.e. the loss gains λ/2·‖w‖². 0 disables it.
    /// </summary>
    public double L2 { get; init; }

    internal void Validate()
    {
        if (!(L2 >= 0) || double.IsInfinity(L2))
            throw new ArgumentOutOfRangeException(nameof(L2), L2, $"Regularization.L2 must be a finite number >= 0. Received: L2={L2}");
    }
}
