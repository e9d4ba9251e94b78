"""The data of fastbp's demos: data sets that ship with scikit-learn, prepared (no network access)."""


def load_breast_cancer_split(random_state=0):
    """Standardised breast-cancer features, split 75/25 with stratification; targets as (n, 1) floats."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                        random_state=random_state)
    scaler = StandardScaler().fit(X_train)
    return (scaler.transform(X_train), y_train.reshape(-1, 1).astype(float),
            scaler.transform(X_test), y_test.reshape(-1, 1).astype(float))
