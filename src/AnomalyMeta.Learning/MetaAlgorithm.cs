namespace AnomalyMeta.Learning;

/// <summary>How the meta-parameters are learned.</summary>
public enum MetaAlgorithm
{
    /// <summary>MAML with second-order gradients through the inner loop (Finn et al. 2017).</summary>
    Maml,

    /// <summary>MAML that treats the inner gradients as constants (first-order approximation, Finn et al. 2017).</summary>
    FirstOrderMaml,

    /// <summary>MAML plus a learned inner step size per parameter (Meta-SGD, Li et al. 2017).</summary>
    MetaSgd,
}

/// <summary>How the outer (meta) learning rate changes over training.</summary>
public enum LearningRateSchedule
{
    /// <summary>The outer learning rate stays fixed.</summary>
    Constant,

    /// <summary>Cosine annealing from the outer learning rate to 0 over the training run.</summary>
    Cosine,
}
